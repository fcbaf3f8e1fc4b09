// Package msgclass is the rule.message_class module: it sets the
// provider's message_class TLV on every submit_sm of a client.
//
// # Name
//
// rule.message_class: sets TLV 0x2900 (message_class) on every submit_sm.
//
// # Description
//
// GatewayAPI sends a message with the "message class" an SMPP client names
// in the vendor TLV 0x2900 (an octet string, not part of SMPP 3.4; see
// seed/gatewayapi-smpp.txt, "TLV fields"). Legacy clients do not know the
// tag, and tenants of one account may need different classes, so this
// rule adds it per client. The value is the
// class name's octets, without a terminating NUL. A value the client set
// itself is replaced, unless keep_client is true. A submit_sm that already
// carries the configured value passes untouched and is forwarded as it came.
//
// # Configuration
//
//	class        string  required; the class name, 1 to 64 octets, no NUL
//	keep_client  bool    default false; leave a message_class the client set alone
//
// # Example
//
//	[[client.rule]]
//	module = "message_class"
//	class = "premium"
//	keep_client = true
//
// # Metrics
//
// None of its own: the rule never rejects, and the mux counts submits.
package msgclass
