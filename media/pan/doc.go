// Package pan finds primary account numbers (card numbers, ISO/IEC 7812) in text and
// scrubs them. hush writes text it was given — call ids, agent ids, labels, reasons,
// request ids — to its log, its audit trail, recording sidecars and session events; each of
// those writers passes that text through Scrub, so a card number that a platform or a
// person put into a free-text field never reaches them.
//
// A card-like number is one that does not touch an ASCII letter (so digits inside a hex
// session id or a hash are left alone) and either
//   - has 12 to 19 digits that pass the Luhn check, written in one run ("4111111111111111")
//     or in groups joined by single spaces or dashes ("4111 1111 1111 1111",
//     "4111-1111-1111-1111"); every card number passes Luhn, and the check keeps nine in
//     ten other long numbers (phone numbers, numeric SIP Call-IDs) intact; or
//   - is a single run of more than 19 digits, which could hide one.
//
// Only ASCII digits are considered. The package imports nothing from hush, so the data
// plane (media/record) and the control plane use the same rule.
package pan
