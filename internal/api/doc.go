// Package api is hush's gRPC edge: it validates requests, converts between the v1 proto
// types and the session package's domain types, and maps domain errors to status codes
// through one table (errors.go). Server assembly (interceptors, health, reflection) is in
// server.go.
//
// Error messages name the field and the rule broken, never the value: a value could be
// anything a caller typed, card numbers included.
package api
