// Package sender is the rule.sender module: it restricts or sets the
// source_addr of a client's submit_sm.
//
// # Name
//
// rule.sender: allows a list of source_addr values, or forces one.
//
// # Description
//
// Tenants share one provider account, so what one tenant may put in the
// sender field is the operator's decision, not the tenant's. With allow,
// a submit_sm whose source_addr is not in the list (compared octet for
// octet, case included) is refused with ESME_RINVSRCADR (0x0A, SMPP 3.4
// §5.1.3). With force, every submit_sm gets that source_addr; one already
// carrying it is forwarded as it came. With both, allow checks what the
// client sent and force then replaces it. source_addr_ton and
// source_addr_npi are left as the client sent them, so a forced
// alphanumeric sender wants a client that sends TON 5.
//
// # Configuration
//
//	allow  []string  source_addr values the client may use, each at most 20 octets (optional)
//	force  string    source_addr set on every submit_sm, 1 to 20 octets (optional)
//
// At least one of the two keys is required.
//
// # Example
//
//	[[client.rule]]
//	module = "sender"
//	allow = ["Shop", "4512345678"]
//
// # Metrics
//
// None of its own: refusals are answered 0x0A and counted by the mux with
// the other submit_sm_resp statuses.
package sender
