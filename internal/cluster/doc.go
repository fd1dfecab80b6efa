// Package cluster runs hush nodes as a fleet behind one address: a session directory in
// Redis, request forwarding to a session's owner, takeover of a dead node's calls, and
// drains that hand calls over.
//
// The directory holds, per session, its owner (node, process instance), a fencing token
// (epoch) and its last snapshot (session.Snapshot: legs, policy, capture and recording
// state; never digits). A node writes a session's snapshot on every control change,
// from a goroutine of its own: control requests wait for the write at most
// cluster.write_timeout, the packet loop never. Nodes register with a heartbeat key that
// expires after the lease.
//
// A session whose owner is dead is taken over by a node that shares the media address it
// was bound to (the same node restarting, or a standby holding the floating IP): it first
// rebinds the session's ports (which only the holder of the address can, and only once
// the old process let go of them), then claims the session with a compare-and-set that
// raises its epoch. Every write a node makes is conditional on its epoch, and every node
// checks its sessions' epochs each heartbeat: a node that finds a newer claim on one of
// its sessions stops running it (split brain ends with one owner).
//
// With no Redis configured none of this runs: the node is alone and nothing waits on
// the network.
package cluster
