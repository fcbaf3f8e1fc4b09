// Package priority is the rule.priority module: it caps or sets the
// priority_flag of every submit_sm of a client.
//
// # Name
//
// rule.priority: caps (max) or forces (set) priority_flag.
//
// # Description
//
// priority_flag (SMPP 3.4 §5.2.14) runs from 0 (lowest) to 3 (highest).
// The provider may overwrite a priority the account is not approved for
// (seed/gatewayapi-smpp.txt, "Priority Overwrite"), and one tenant's
// priority-3 traffic competes with every other tenant's on the shared
// account, so the mux lets an operator decide it per client: max lowers
// a higher value to max, set replaces whatever the client sent. With both,
// set wins, and must not exceed max. A submit_sm already within bounds is
// forwarded as it came. The rule never rejects.
//
// # Configuration
//
//	max  int  0-3; cap priority_flag to it (optional)
//	set  int  0-3; force priority_flag to it (optional)
//
// At least one of the two keys is required.
//
// # Example
//
//	[[client.rule]]
//	module = "priority"
//	max = 1
//
// # Metrics
//
// None of its own: the rule never rejects.
package priority
