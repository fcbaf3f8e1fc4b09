package downstream

import "github.com/smpp-mux/smpp-mux/pdu"

// BindType is how a client bound: as a receiver, transmitter or
// transceiver (SMPP 3.4 §2.2). The zero value means not bound.
type BindType uint8

// Bind types of SMPP 3.4.
const (
	Receiver    BindType = iota + 1 // bind_receiver: gets deliver_sm only
	Transmitter                     // bind_transmitter: sends submit_sm only
	Transceiver                     // bind_transceiver: both
)

// String returns "receiver", "transmitter", "transceiver", or "unbound".
func (t BindType) String() string {
	switch t {
	case Receiver:
		return "receiver"
	case Transmitter:
		return "transmitter"
	case Transceiver:
		return "transceiver"
	}
	return "unbound"
}

// CanSubmit reports whether a session of this type may send submit_sm.
func (t BindType) CanSubmit() bool { return t == Transmitter || t == Transceiver }

// CanReceive reports whether a session of this type may be sent deliver_sm.
func (t BindType) CanReceive() bool { return t == Receiver || t == Transceiver }

// bindTypeOf returns the bind type of a bind request id, or 0.
func bindTypeOf(id pdu.CommandID) BindType {
	switch id {
	case pdu.CmdBindReceiver:
		return Receiver
	case pdu.CmdBindTransmitter:
		return Transmitter
	case pdu.CmdBindTransceiver:
		return Transceiver
	}
	return 0
}
