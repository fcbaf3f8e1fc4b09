// Package destton is the rule.dest_ton module: it keeps dest_addr_ton to
// the values the provider takes.
//
// # Name
//
// rule.dest_ton: dest_addr_ton 0 becomes 1; other values than 0 and 1 are refused.
//
// # Description
//
// The provider supports only TON 0 (unknown) and 1 (international) for
// destination addresses, and reads 0 as 1 (seed/gatewayapi-smpp.txt,
// "Commands"). Legacy clients often send 2 (national) or 5
// (alphanumeric) by habit; the provider would refuse those after the
// message has used an upstream window slot, so this rule refuses them
// early with ESME_RINVDSTTON (0x50, SMPP 3.4 §5.1.3). TON 0 is rewritten
// to 1, which the provider would assume anyway, so that what the mux
// forwards says what the provider does; set rewrite_unknown = false to
// forward 0 as it came. dest_addr_npi is not looked at.
//
// # Configuration
//
//	rewrite_unknown  bool  default true; rewrite dest_addr_ton 0 to 1
//
// # Example
//
//	[[client.rule]]
//	module = "dest_ton"
//	rewrite_unknown = false
//
// # Metrics
//
// None of its own: rejects are answered 0x50 and counted by the mux with
// the other submit_sm_resp statuses.
package destton
