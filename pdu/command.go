package pdu

import "strconv"

// CommandID is an SMPP command_id (SMPP 3.4 §5.1.2.1).
type CommandID uint32

// Command ids of SMPP 3.4. A response id is its request id with the high bit
// set.
const (
	CmdGenericNack         CommandID = 0x80000000 // generic_nack
	CmdBindReceiver        CommandID = 0x00000001 // bind_receiver
	CmdBindReceiverResp    CommandID = 0x80000001 // bind_receiver_resp
	CmdBindTransmitter     CommandID = 0x00000002 // bind_transmitter
	CmdBindTransmitterResp CommandID = 0x80000002 // bind_transmitter_resp
	CmdQuerySM             CommandID = 0x00000003 // query_sm
	CmdQuerySMResp         CommandID = 0x80000003 // query_sm_resp
	CmdSubmitSM            CommandID = 0x00000004 // submit_sm
	CmdSubmitSMResp        CommandID = 0x80000004 // submit_sm_resp
	CmdDeliverSM           CommandID = 0x00000005 // deliver_sm
	CmdDeliverSMResp       CommandID = 0x80000005 // deliver_sm_resp
	CmdUnbind              CommandID = 0x00000006 // unbind
	CmdUnbindResp          CommandID = 0x80000006 // unbind_resp
	CmdReplaceSM           CommandID = 0x00000007 // replace_sm
	CmdReplaceSMResp       CommandID = 0x80000007 // replace_sm_resp
	CmdCancelSM            CommandID = 0x00000008 // cancel_sm
	CmdCancelSMResp        CommandID = 0x80000008 // cancel_sm_resp
	CmdBindTransceiver     CommandID = 0x00000009 // bind_transceiver
	CmdBindTransceiverResp CommandID = 0x80000009 // bind_transceiver_resp
	CmdOutbind             CommandID = 0x0000000B // outbind
	CmdEnquireLink         CommandID = 0x00000015 // enquire_link
	CmdEnquireLinkResp     CommandID = 0x80000015 // enquire_link_resp
	CmdSubmitMulti         CommandID = 0x00000021 // submit_multi
	CmdSubmitMultiResp     CommandID = 0x80000021 // submit_multi_resp
	CmdAlertNotification   CommandID = 0x00000102 // alert_notification
	CmdDataSM              CommandID = 0x00000103 // data_sm
	CmdDataSMResp          CommandID = 0x80000103 // data_sm_resp
)

// respBit marks a response command_id.
const respBit = 0x80000000

// IsResp reports whether id is a response (generic_nack included).
func (id CommandID) IsResp() bool { return id&respBit != 0 }

// Resp returns the response id of a request id.
func (id CommandID) Resp() CommandID { return id | respBit }

// IsBind reports whether id is one of the three bind requests.
func (id CommandID) IsBind() bool {
	return id == CmdBindReceiver || id == CmdBindTransmitter || id == CmdBindTransceiver
}

// Known reports whether id is a command of SMPP 3.4.
func (id CommandID) Known() bool {
	_, ok := commandNames[id]
	return ok
}

var commandNames = map[CommandID]string{
	CmdGenericNack:         "generic_nack",
	CmdBindReceiver:        "bind_receiver",
	CmdBindReceiverResp:    "bind_receiver_resp",
	CmdBindTransmitter:     "bind_transmitter",
	CmdBindTransmitterResp: "bind_transmitter_resp",
	CmdQuerySM:             "query_sm",
	CmdQuerySMResp:         "query_sm_resp",
	CmdSubmitSM:            "submit_sm",
	CmdSubmitSMResp:        "submit_sm_resp",
	CmdDeliverSM:           "deliver_sm",
	CmdDeliverSMResp:       "deliver_sm_resp",
	CmdUnbind:              "unbind",
	CmdUnbindResp:          "unbind_resp",
	CmdReplaceSM:           "replace_sm",
	CmdReplaceSMResp:       "replace_sm_resp",
	CmdCancelSM:            "cancel_sm",
	CmdCancelSMResp:        "cancel_sm_resp",
	CmdBindTransceiver:     "bind_transceiver",
	CmdBindTransceiverResp: "bind_transceiver_resp",
	CmdOutbind:             "outbind",
	CmdEnquireLink:         "enquire_link",
	CmdEnquireLinkResp:     "enquire_link_resp",
	CmdSubmitMulti:         "submit_multi",
	CmdSubmitMultiResp:     "submit_multi_resp",
	CmdAlertNotification:   "alert_notification",
	CmdDataSM:              "data_sm",
	CmdDataSMResp:          "data_sm_resp",
}

// String returns the spec name of id, or its hex value when unknown.
func (id CommandID) String() string {
	if s, ok := commandNames[id]; ok {
		return s
	}
	return "command_0x" + strconv.FormatUint(uint64(id), 16)
}
