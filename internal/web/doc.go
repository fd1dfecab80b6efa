// Package web is hushd's pages: the agent's payment panel (/agent, and /embed.js for an
// agent desktop to host) and the QA console (/qa). They are server-rendered HTML with a
// little JavaScript, every asset embedded in the binary, no CDN, and a strict
// Content-Security-Policy (nothing inline, nothing from elsewhere), so they work
// offline.
//
// The pages hold no authority of their own: every piece of data comes from an RPC made
// through the in-process connection with the visitor's credentials
// (gateway.CallContext), so the Authorizer and its Policy table decide what each person
// sees, as for any gRPC client; a refusal becomes a sign-in page (401) or a "not for your
// role" page (403). A person signs in with a bearer token (from the token file or the
// company's identity provider), which hushd keeps in an HttpOnly, SameSite=Strict cookie
// for its own pages only.
package web
