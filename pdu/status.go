package pdu

import "strconv"

// Status is an SMPP command_status (SMPP 3.4 §5.1.3). Zero is success.
type Status uint32

// Command status values of SMPP 3.4 §5.1.3. Values 0x400 to 0x4FF are
// reserved for SMSC vendors; a provider's own codes pass through unchanged.
// SMPP 3.4 has no ESME_RINVDCS (that is SMPP 5.0), so a payload that does not
// decode under its data_coding is refused with ESME_RSUBMITFAIL or a vendor code.
const (
	StatusOK               Status = 0x00 // ESME_ROK
	StatusInvMsgLen        Status = 0x01 // ESME_RINVMSGLEN
	StatusInvCmdLen        Status = 0x02 // ESME_RINVCMDLEN
	StatusInvCmdID         Status = 0x03 // ESME_RINVCMDID
	StatusInvBindStatus    Status = 0x04 // ESME_RINVBNDSTS
	StatusAlreadyBound     Status = 0x05 // ESME_RALYBND
	StatusInvPrtFlag       Status = 0x06 // ESME_RINVPRTFLG
	StatusInvRegDlvFlag    Status = 0x07 // ESME_RINVREGDLVFLG
	StatusSysErr           Status = 0x08 // ESME_RSYSERR
	StatusInvSrcAddr       Status = 0x0A // ESME_RINVSRCADR
	StatusInvDstAddr       Status = 0x0B // ESME_RINVDSTADR
	StatusInvMsgID         Status = 0x0C // ESME_RINVMSGID
	StatusBindFail         Status = 0x0D // ESME_RBINDFAIL
	StatusInvPassword      Status = 0x0E // ESME_RINVPASWD
	StatusInvSystemID      Status = 0x0F // ESME_RINVSYSID
	StatusCancelFail       Status = 0x11 // ESME_RCANCELFAIL
	StatusReplaceFail      Status = 0x13 // ESME_RREPLACEFAIL
	StatusMsgQueueFull     Status = 0x14 // ESME_RMSGQFUL
	StatusInvServiceType   Status = 0x15 // ESME_RINVSERTYP
	StatusInvNumDests      Status = 0x33 // ESME_RINVNUMDESTS
	StatusInvDLName        Status = 0x34 // ESME_RINVDLNAME
	StatusInvDestFlag      Status = 0x40 // ESME_RINVDESTFLAG
	StatusInvSubRep        Status = 0x42 // ESME_RINVSUBREP
	StatusInvESMClass      Status = 0x43 // ESME_RINVESMCLASS
	StatusCntSubDL         Status = 0x44 // ESME_RCNTSUBDL
	StatusSubmitFail       Status = 0x45 // ESME_RSUBMITFAIL
	StatusInvSrcTON        Status = 0x48 // ESME_RINVSRCTON
	StatusInvSrcNPI        Status = 0x49 // ESME_RINVSRCNPI
	StatusInvDstTON        Status = 0x50 // ESME_RINVDSTTON
	StatusInvDstNPI        Status = 0x51 // ESME_RINVDSTNPI
	StatusInvSystemType    Status = 0x53 // ESME_RINVSYSTYP
	StatusInvRepFlag       Status = 0x54 // ESME_RINVREPFLAG
	StatusInvNumMsgs       Status = 0x55 // ESME_RINVNUMMSGS
	StatusThrottled        Status = 0x58 // ESME_RTHROTTLED
	StatusInvSched         Status = 0x61 // ESME_RINVSCHED
	StatusInvExpiry        Status = 0x62 // ESME_RINVEXPIRY
	StatusInvDftMsgID      Status = 0x63 // ESME_RINVDFTMSGID
	StatusTempAppErr       Status = 0x64 // ESME_RX_T_APPN
	StatusPermAppErr       Status = 0x65 // ESME_RX_P_APPN
	StatusRejectAppErr     Status = 0x66 // ESME_RX_R_APPN
	StatusQueryFail        Status = 0x67 // ESME_RQUERYFAIL
	StatusInvOptParStream  Status = 0xC0 // ESME_RINVOPTPARSTREAM
	StatusOptParNotAllowed Status = 0xC1 // ESME_ROPTPARNOTALLWD
	StatusInvParLen        Status = 0xC2 // ESME_RINVPARLEN
	StatusMissingOptParam  Status = 0xC3 // ESME_RMISSINGOPTPARAM
	StatusInvOptParamVal   Status = 0xC4 // ESME_RINVOPTPARAMVAL
	StatusDeliveryFailure  Status = 0xFE // ESME_RDELIVERYFAILURE
	StatusUnknownErr       Status = 0xFF // ESME_RUNKNOWNERR
)

type statusInfo struct{ name, desc string }

var statusNames = map[Status]statusInfo{
	StatusOK:               {"ESME_ROK", "no error"},
	StatusInvMsgLen:        {"ESME_RINVMSGLEN", "message length is invalid"},
	StatusInvCmdLen:        {"ESME_RINVCMDLEN", "command length is invalid"},
	StatusInvCmdID:         {"ESME_RINVCMDID", "invalid command id"},
	StatusInvBindStatus:    {"ESME_RINVBNDSTS", "incorrect bind status for given command"},
	StatusAlreadyBound:     {"ESME_RALYBND", "ESME already in bound state"},
	StatusInvPrtFlag:       {"ESME_RINVPRTFLG", "invalid priority flag"},
	StatusInvRegDlvFlag:    {"ESME_RINVREGDLVFLG", "invalid registered delivery flag"},
	StatusSysErr:           {"ESME_RSYSERR", "system error"},
	StatusInvSrcAddr:       {"ESME_RINVSRCADR", "invalid source address"},
	StatusInvDstAddr:       {"ESME_RINVDSTADR", "invalid destination address"},
	StatusInvMsgID:         {"ESME_RINVMSGID", "message id is invalid"},
	StatusBindFail:         {"ESME_RBINDFAIL", "bind failed"},
	StatusInvPassword:      {"ESME_RINVPASWD", "invalid password"},
	StatusInvSystemID:      {"ESME_RINVSYSID", "invalid system id"},
	StatusCancelFail:       {"ESME_RCANCELFAIL", "cancel_sm failed"},
	StatusReplaceFail:      {"ESME_RREPLACEFAIL", "replace_sm failed"},
	StatusMsgQueueFull:     {"ESME_RMSGQFUL", "message queue full"},
	StatusInvServiceType:   {"ESME_RINVSERTYP", "invalid service type"},
	StatusInvNumDests:      {"ESME_RINVNUMDESTS", "invalid number of destinations"},
	StatusInvDLName:        {"ESME_RINVDLNAME", "invalid distribution list name"},
	StatusInvDestFlag:      {"ESME_RINVDESTFLAG", "destination flag is invalid"},
	StatusInvSubRep:        {"ESME_RINVSUBREP", "invalid submit with replace request"},
	StatusInvESMClass:      {"ESME_RINVESMCLASS", "invalid esm_class field data"},
	StatusCntSubDL:         {"ESME_RCNTSUBDL", "cannot submit to distribution list"},
	StatusSubmitFail:       {"ESME_RSUBMITFAIL", "submit_sm or submit_multi failed"},
	StatusInvSrcTON:        {"ESME_RINVSRCTON", "invalid source address TON"},
	StatusInvSrcNPI:        {"ESME_RINVSRCNPI", "invalid source address NPI"},
	StatusInvDstTON:        {"ESME_RINVDSTTON", "invalid destination address TON"},
	StatusInvDstNPI:        {"ESME_RINVDSTNPI", "invalid destination address NPI"},
	StatusInvSystemType:    {"ESME_RINVSYSTYP", "invalid system_type field"},
	StatusInvRepFlag:       {"ESME_RINVREPFLAG", "invalid replace_if_present flag"},
	StatusInvNumMsgs:       {"ESME_RINVNUMMSGS", "invalid number of messages"},
	StatusThrottled:        {"ESME_RTHROTTLED", "throttling error (ESME has exceeded allowed message limits)"},
	StatusInvSched:         {"ESME_RINVSCHED", "invalid scheduled delivery time"},
	StatusInvExpiry:        {"ESME_RINVEXPIRY", "invalid message validity period"},
	StatusInvDftMsgID:      {"ESME_RINVDFTMSGID", "predefined message invalid or not found"},
	StatusTempAppErr:       {"ESME_RX_T_APPN", "ESME receiver temporary app error code"},
	StatusPermAppErr:       {"ESME_RX_P_APPN", "ESME receiver permanent app error code"},
	StatusRejectAppErr:     {"ESME_RX_R_APPN", "ESME receiver reject message error code"},
	StatusQueryFail:        {"ESME_RQUERYFAIL", "query_sm request failed"},
	StatusInvOptParStream:  {"ESME_RINVOPTPARSTREAM", "error in the optional part of the PDU body"},
	StatusOptParNotAllowed: {"ESME_ROPTPARNOTALLWD", "optional parameter not allowed"},
	StatusInvParLen:        {"ESME_RINVPARLEN", "invalid parameter length"},
	StatusMissingOptParam:  {"ESME_RMISSINGOPTPARAM", "expected optional parameter missing"},
	StatusInvOptParamVal:   {"ESME_RINVOPTPARAMVAL", "invalid optional parameter value"},
	StatusDeliveryFailure:  {"ESME_RDELIVERYFAILURE", "delivery failure (data_sm_resp)"},
	StatusUnknownErr:       {"ESME_RUNKNOWNERR", "unknown error"},
}

// String returns the spec name of s (ESME_RTHROTTLED), or its hex value.
func (s Status) String() string {
	if i, ok := statusNames[s]; ok {
		return i.name
	}
	return "0x" + strconv.FormatUint(uint64(s), 16)
}

// Description returns the spec's description of s, or "" when unknown.
func (s Status) Description() string { return statusNames[s].desc }

// Temporary reports whether a client may usefully retry the same submit later.
func (s Status) Temporary() bool {
	switch s {
	case StatusThrottled, StatusMsgQueueFull, StatusTempAppErr, StatusSysErr:
		return true
	}
	return false
}

// Err returns a *StatusError carrying s, or nil for StatusOK.
func (s Status) Err() error {
	if s == StatusOK {
		return nil
	}
	return &StatusError{Status: s}
}

// StatusError is an error that carries the command_status a peer should see;
// a rule that rejects a message returns one.
type StatusError struct {
	Status Status
	Reason string // for logs; never sent on the wire
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Reason == "" {
		return "smpp status " + e.Status.String()
	}
	return "smpp status " + e.Status.String() + ": " + e.Reason
}
