package pdu

// Field maximums of the bind PDUs, NUL included (SMPP 3.4 §4.1.1). The spec
// gives 16 octets to system_id and 9 to password; providers issue longer
// credentials, so smpp-mux accepts up to 65 for both.
const (
	maxSystemID     = 65
	maxPassword     = 65
	maxSystemType   = 13
	maxAddressRange = 41
)

// InterfaceVersion34 is interface_version 0x34, SMPP 3.4.
const InterfaceVersion34 = 0x34

// Bind is the body of bind_receiver, bind_transmitter and bind_transceiver
// (SMPP 3.4 §4.1.1, §4.1.3, §4.1.5).
type Bind struct {
	SystemID         []byte
	Password         []byte
	SystemType       []byte
	InterfaceVersion byte
	AddrTON          byte
	AddrNPI          byte
	AddressRange     []byte
}

// Decode implements Body.
func (b *Bind) Decode(body []byte) error {
	c := cursor{b: body}
	b.SystemID = c.cstring("system_id", maxSystemID, StatusInvSystemID)
	b.Password = c.cstring("password", maxPassword, StatusInvPassword)
	b.SystemType = c.cstring("system_type", maxSystemType, StatusInvSystemType)
	b.InterfaceVersion = c.byte1("interface_version")
	b.AddrTON = c.byte1("addr_ton")
	b.AddrNPI = c.byte1("addr_npi")
	b.AddressRange = c.cstring("address_range", maxAddressRange, StatusBindFail)
	c.end("bind")
	return c.err
}

// AppendBody implements Body.
func (b *Bind) AppendBody(dst []byte) []byte {
	dst = appendCString(dst, b.SystemID)
	dst = appendCString(dst, b.Password)
	dst = appendCString(dst, b.SystemType)
	dst = append(dst, b.InterfaceVersion, b.AddrTON, b.AddrNPI)
	return appendCString(dst, b.AddressRange)
}

// BindResp is the body of the three bind responses: the SMSC's system_id
// and, optionally, TLV sc_interface_version (SMPP 3.4 §4.1.2).
type BindResp struct {
	SystemID []byte
	TLVs     TLVs
}

// Decode implements Body. An empty body is accepted: SMSCs leave it out
// when they refuse a bind.
func (b *BindResp) Decode(body []byte) error {
	if len(body) == 0 {
		*b = BindResp{}
		return nil
	}
	c := cursor{b: body}
	b.SystemID = c.cstring("system_id", maxSystemID, StatusInvSystemID)
	b.TLVs = c.tlvs()
	return c.err
}

// AppendBody implements Body.
func (b *BindResp) AppendBody(dst []byte) []byte {
	dst = appendCString(dst, b.SystemID)
	return append(dst, b.TLVs...)
}
