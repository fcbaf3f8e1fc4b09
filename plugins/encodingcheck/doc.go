// Package encodingcheck is the rule.encoding_check module: it refuses early a
// submit_sm the provider would refuse for its data_coding or its text.
//
// # Name
//
// rule.encoding_check: refuses unsupported data_coding and text that does not decode under it.
//
// # Description
//
// The provider accepts the data_coding values 0, 1, 2, 3, 4, 6, 8, 24
// (0x18, UCS-2 flash) and 240 (0xF0, GSM 7-bit flash) on submit_sm, and
// rejects a message whose text does not decode cleanly under its
// data_coding (seed/gatewayapi-smpp.txt, "Coding Schemes" and
// "Limitations: Encoding"). This rule makes the same checks in the mux,
// so that a bad message is answered at once and never takes an upstream
// window slot: the data_coding must be in that list, and the text must
// pass pdu.CheckText (GSM 03.38 septets without a dangling escape, IA5
// below 0x80, defined ISO-8859-5 octets, well-paired UCS-2; binary and
// Latin-1 always pass).
//
// The text is TLV message_payload (0x0424) when present, else
// short_message. When esm_class has UDHI (0x40) the text begins with a
// binary user data header, whose first octet is its length; the header is
// skipped and only the text after it is checked. A header longer than the
// text is refused too.
//
// SMPP 3.4 has no "invalid data coding" status (ESME_RINVDCS is SMPP 5.0),
// so refusals carry ESME_RSUBMITFAIL (0x45) unless status says otherwise.
//
// # Configuration
//
//	status  int  default 0x45 (ESME_RSUBMITFAIL); the command_status of a refusal, 0x01-0xFFFFFFFF
//
// # Example
//
//	[[client.rule]]
//	module = "encoding_check"
//	status = 0x45
//
// # Metrics
//
// None of its own: refusals are counted by the mux with the other
// submit_sm_resp statuses.
package encodingcheck
