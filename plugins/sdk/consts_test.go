package sdk_test

import (
	"testing"

	"github.com/smpp-mux/smpp-mux/pdu"
	"github.com/smpp-mux/smpp-mux/plugins/sdk"
)

// TestConstsMatchPDU checks the SDK's statuses and tags against package
// pdu, which the mux decodes and encodes with.
func TestConstsMatchPDU(t *testing.T) {
	t.Parallel()
	statuses := map[uint32]pdu.Status{
		sdk.StatusOK: pdu.StatusOK, sdk.StatusInvMsgLen: pdu.StatusInvMsgLen, sdk.StatusInvCmdLen: pdu.StatusInvCmdLen,
		sdk.StatusInvCmdID: pdu.StatusInvCmdID, sdk.StatusInvBindStatus: pdu.StatusInvBindStatus,
		sdk.StatusAlreadyBound: pdu.StatusAlreadyBound, sdk.StatusInvPrtFlag: pdu.StatusInvPrtFlag,
		sdk.StatusInvRegDlvFlag: pdu.StatusInvRegDlvFlag, sdk.StatusSysErr: pdu.StatusSysErr,
		sdk.StatusInvSrcAddr: pdu.StatusInvSrcAddr, sdk.StatusInvDstAddr: pdu.StatusInvDstAddr,
		sdk.StatusInvMsgID: pdu.StatusInvMsgID, sdk.StatusMsgQueueFull: pdu.StatusMsgQueueFull,
		sdk.StatusInvServiceType: pdu.StatusInvServiceType, sdk.StatusInvESMClass: pdu.StatusInvESMClass,
		sdk.StatusSubmitFail: pdu.StatusSubmitFail, sdk.StatusInvSrcTON: pdu.StatusInvSrcTON,
		sdk.StatusInvSrcNPI: pdu.StatusInvSrcNPI, sdk.StatusInvDstTON: pdu.StatusInvDstTON,
		sdk.StatusInvDstNPI: pdu.StatusInvDstNPI, sdk.StatusThrottled: pdu.StatusThrottled,
		sdk.StatusInvSched: pdu.StatusInvSched, sdk.StatusInvExpiry: pdu.StatusInvExpiry,
		sdk.StatusTempAppErr: pdu.StatusTempAppErr, sdk.StatusPermAppErr: pdu.StatusPermAppErr,
		sdk.StatusRejectAppErr: pdu.StatusRejectAppErr, sdk.StatusInvOptParStream: pdu.StatusInvOptParStream,
		sdk.StatusOptParNotAllowed: pdu.StatusOptParNotAllowed, sdk.StatusInvParLen: pdu.StatusInvParLen,
		sdk.StatusMissingOptParam: pdu.StatusMissingOptParam, sdk.StatusInvOptParamVal: pdu.StatusInvOptParamVal,
		sdk.StatusDeliveryFailure: pdu.StatusDeliveryFailure, sdk.StatusUnknownErr: pdu.StatusUnknownErr,
	}
	for s, p := range statuses {
		if s != uint32(p) {
			t.Errorf("status 0x%02X: pdu has 0x%02X", s, uint32(p))
		}
	}
	tags := map[uint16]pdu.Tag{
		sdk.TagDestAddrSubunit: pdu.TagDestAddrSubunit, sdk.TagSourceAddrSubunit: pdu.TagSourceAddrSubunit,
		sdk.TagPayloadType: pdu.TagPayloadType, sdk.TagReceiptedMessageID: pdu.TagReceiptedMessageID,
		sdk.TagPrivacyIndicator: pdu.TagPrivacyIndicator, sdk.TagUserMessageReference: pdu.TagUserMessageReference,
		sdk.TagSourcePort: pdu.TagSourcePort, sdk.TagDestinationPort: pdu.TagDestinationPort,
		sdk.TagSARMsgRefNum: pdu.TagSARMsgRefNum, sdk.TagLanguageIndicator: pdu.TagLanguageIndicator,
		sdk.TagSARTotalSegments: pdu.TagSARTotalSegments, sdk.TagSARSegmentSeqnum: pdu.TagSARSegmentSeqnum,
		sdk.TagCallbackNum: pdu.TagCallbackNum, sdk.TagNetworkErrorCode: pdu.TagNetworkErrorCode,
		sdk.TagMessagePayload: pdu.TagMessagePayload, sdk.TagMessageState: pdu.TagMessageState,
		sdk.TagMessageClass: pdu.TagMessageClass,
	}
	for s, p := range tags {
		if s != uint16(p) {
			t.Errorf("tag 0x%04X: pdu has 0x%04X", s, uint16(p))
		}
	}
}
