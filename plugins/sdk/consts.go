package sdk

// Command statuses of SMPP 3.4 §5.1.3 a rule rejects with (Reject's
// status). The client gets the status in its submit_sm_resp.
const (
	StatusOK               uint32 = 0x00 // ESME_ROK
	StatusInvMsgLen        uint32 = 0x01 // ESME_RINVMSGLEN: message length is invalid
	StatusInvCmdLen        uint32 = 0x02 // ESME_RINVCMDLEN
	StatusInvCmdID         uint32 = 0x03 // ESME_RINVCMDID
	StatusInvBindStatus    uint32 = 0x04 // ESME_RINVBNDSTS
	StatusAlreadyBound     uint32 = 0x05 // ESME_RALYBND
	StatusInvPrtFlag       uint32 = 0x06 // ESME_RINVPRTFLG: invalid priority_flag
	StatusInvRegDlvFlag    uint32 = 0x07 // ESME_RINVREGDLVFLG: invalid registered_delivery
	StatusSysErr           uint32 = 0x08 // ESME_RSYSERR: system error
	StatusInvSrcAddr       uint32 = 0x0A // ESME_RINVSRCADR: invalid source address
	StatusInvDstAddr       uint32 = 0x0B // ESME_RINVDSTADR: invalid destination address
	StatusInvMsgID         uint32 = 0x0C // ESME_RINVMSGID
	StatusMsgQueueFull     uint32 = 0x14 // ESME_RMSGQFUL: message queue full
	StatusInvServiceType   uint32 = 0x15 // ESME_RINVSERTYP: invalid service_type
	StatusInvESMClass      uint32 = 0x43 // ESME_RINVESMCLASS: invalid esm_class
	StatusSubmitFail       uint32 = 0x45 // ESME_RSUBMITFAIL: submit_sm failed
	StatusInvSrcTON        uint32 = 0x48 // ESME_RINVSRCTON
	StatusInvSrcNPI        uint32 = 0x49 // ESME_RINVSRCNPI
	StatusInvDstTON        uint32 = 0x50 // ESME_RINVDSTTON
	StatusInvDstNPI        uint32 = 0x51 // ESME_RINVDSTNPI
	StatusThrottled        uint32 = 0x58 // ESME_RTHROTTLED: throttling error; the client may retry later
	StatusInvSched         uint32 = 0x61 // ESME_RINVSCHED: invalid schedule_delivery_time
	StatusInvExpiry        uint32 = 0x62 // ESME_RINVEXPIRY: invalid validity_period
	StatusTempAppErr       uint32 = 0x64 // ESME_RX_T_APPN: temporary application error; the client may retry
	StatusPermAppErr       uint32 = 0x65 // ESME_RX_P_APPN: permanent application error
	StatusRejectAppErr     uint32 = 0x66 // ESME_RX_R_APPN: rejected by the application
	StatusInvOptParStream  uint32 = 0xC0 // ESME_RINVOPTPARSTREAM: error in the TLVs
	StatusOptParNotAllowed uint32 = 0xC1 // ESME_ROPTPARNOTALLWD: a TLV is not allowed
	StatusInvParLen        uint32 = 0xC2 // ESME_RINVPARLEN: a TLV has an invalid length
	StatusMissingOptParam  uint32 = 0xC3 // ESME_RMISSINGOPTPARAM: an expected TLV is missing
	StatusInvOptParamVal   uint32 = 0xC4 // ESME_RINVOPTPARAMVAL: a TLV has an invalid value
	StatusDeliveryFailure  uint32 = 0xFE // ESME_RDELIVERYFAILURE
	StatusUnknownErr       uint32 = 0xFF // ESME_RUNKNOWNERR
)

// TLV tags of SMPP 3.4 §5.3.2 a rule reads or sets, and the provider's
// vendor tag. Any other tag can be used as a plain number.
const (
	TagDestAddrSubunit      uint16 = 0x0005 // dest_addr_subunit: 1 octet; 0x01 is a flash SMS
	TagSourceAddrSubunit    uint16 = 0x000D // source_addr_subunit: 1 octet
	TagPayloadType          uint16 = 0x0019 // payload_type: 1 octet
	TagReceiptedMessageID   uint16 = 0x001E // receipted_message_id: C-octet string; in a delivery receipt
	TagPrivacyIndicator     uint16 = 0x0201 // privacy_indicator: 1 octet
	TagUserMessageReference uint16 = 0x0204 // user_message_reference: 2 octets, big-endian
	TagSourcePort           uint16 = 0x020A // source_port: 2 octets
	TagDestinationPort      uint16 = 0x020B // destination_port: 2 octets
	TagSARMsgRefNum         uint16 = 0x020C // sar_msg_ref_num: 2 octets; concatenation reference
	TagLanguageIndicator    uint16 = 0x020D // language_indicator: 1 octet
	TagSARTotalSegments     uint16 = 0x020E // sar_total_segments: 1 octet
	TagSARSegmentSeqnum     uint16 = 0x020F // sar_segment_seqnum: 1 octet
	TagCallbackNum          uint16 = 0x0381 // callback_num
	TagNetworkErrorCode     uint16 = 0x0423 // network_error_code: 3 octets; in a delivery receipt
	TagMessagePayload       uint16 = 0x0424 // message_payload: the text when short_message is empty
	TagMessageState         uint16 = 0x0427 // message_state: 1 octet; in a delivery receipt
	TagMessageClass         uint16 = 0x2900 // message_class: GatewayAPI's vendor TLV, not SMPP 3.4
)
