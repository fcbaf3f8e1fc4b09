package sim

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/smpp-mux/smpp-mux/pdu"
)

// Errors returned by the Server's methods; match them with errors.Is.
var (
	// ErrServerClosed is returned by Serve and InjectMO once Shutdown or
	// Close has begun, as net/http does.
	ErrServerClosed = errors.New("sim: server closed")
	// ErrHostStopped is returned by Serve after StopHost closed its
	// listener: the host is down for maintenance.
	ErrHostStopped = errors.New("sim: host stopped")
	// ErrUnknownAccount is returned by InjectMO for a system_id that
	// Config.Accounts does not hold.
	ErrUnknownAccount = errors.New("sim: unknown account")
	// ErrMODataCoding is returned by InjectMO for a data_coding the
	// provider does not use for MO messages (it uses 0, 3, 4 and 8).
	ErrMODataCoding = errors.New("sim: data_coding not used for MO messages")
	// ErrDropped is the cause a session ends with after DropSessions.
	ErrDropped = errors.New("sim: session dropped for maintenance")
	// errUnbound ends a session whose peer answered our unbind.
	errUnbound = errors.New("sim: unbound")
)

// SystemID is the system_id the simulator answers binds with.
const SystemID = "GatewayAPI"

// Defaults of Config's zero fields.
const (
	DefaultWindow         = 10
	DefaultMaxPending     = 25000 // the provider keeps 25,000 unacknowledged reports
	DefaultDeliverTimeout = 30 * time.Second
	DefaultRecord         = 10000
)

// Config scripts a Server. The zero value is a provider that accepts any
// credentials, answers at once, sends no ENROUTE and delivers receipts at
// once. Fields are read once by New.
type Config struct {
	// Accounts maps system_id to password. Empty: any credentials are
	// accepted, and each system_id is an account of its own.
	Accounts map[string]string

	RespLatency time.Duration // delay before each submit_sm_resp; 0: immediate
	DLRDelay    time.Duration // from submit_sm_resp to the final receipt
	SendEnroute bool          // an ENROUTE receipt with the submit_sm_resp, before DELIVRD
	DLRShuffle  bool          // reports leave in no guaranteed order, as the seed warns

	// Rate caps accepted submit_sm per second per account, over all its
	// sessions and hosts; over it the answer is ESME_RTHROTTLED (0x58).
	// 0: unlimited. The bucket holds one second's worth.
	Rate float64

	// Window is the most deliver_sm a session may have unacknowledged;
	// more wait (the provider's self-imposed throttle). Default 10.
	Window int
	// DeliverTimeout is how long a deliver_sm may wait for its response
	// before it is sent again on some session. Default 30s.
	DeliverTimeout time.Duration
	// MaxPending is how many reports and MOs an account keeps waiting for
	// a session; more are dropped and counted. Default 25,000.
	MaxPending int

	ErrorEvery    int        // every Nth submit_sm is answered with ErrorStatus; 0: never
	ErrorStatus   pdu.Status // default ESME_RSYSERR (0x08)
	ThrottleEvery int        // every Nth submit_sm is answered ESME_RTHROTTLED; 0: never

	// MessageID makes the message_id of the nth accepted submit_sm
	// (n from 1). Default: 16 hex digits, unique per Server. It is called
	// from session read loops concurrently.
	MessageID func(n uint64) string

	// MessageIDNoNUL sends submit_sm_resp's message_id without its NUL
	// terminator, as a faulty provider might; for tests of the mux.
	MessageIDNoNUL bool

	MaxLength uint32 // largest command_length read; default pdu.DefaultMaxLength

	// Record is how many of the latest submit_sm Submits returns; 0:
	// DefaultRecord, negative: none (for benchmarks).
	Record int

	// Trace, when set, is called with each submit_sm received, after its
	// answer, from session read loops concurrently (simulate --trace).
	Trace func(Submit)

	// Tick is how often each session expires its deliver_sm window;
	// default 1s.
	Tick time.Duration

	// EchoNumber, when set, turns every accepted submit_sm to this number
	// into an MO back to the sender, after its submit_sm_resp: a
	// deliver_sm from EchoNumber to the submit's source_addr (its TON and
	// NPI too), with the same text in the same field (short_message or
	// message_payload), the same data_coding and the UDHI bit of its
	// esm_class, to the same account. The destination matches with or
	// without a leading "+" or "00". "": no echo. The demo and `smpp-mux
	// simulate` use "4500000000".
	EchoNumber string

	Logger *zap.Logger // nil: zap.NewNop()
}

func (cfg *Config) defaults() {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.DeliverTimeout <= 0 {
		cfg.DeliverTimeout = DefaultDeliverTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.ErrorStatus == pdu.StatusOK {
		cfg.ErrorStatus = pdu.StatusSysErr
	}
	if cfg.MessageID == nil {
		cfg.MessageID = hexMessageID()
	}
	if cfg.MaxLength == 0 {
		cfg.MaxLength = pdu.DefaultMaxLength
	}
	if cfg.Record == 0 {
		cfg.Record = DefaultRecord
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
}

// hexMessageID returns the default id maker: a random 32-bit prefix per
// Server and the count, as 16 hex digits, like the provider's ids.
func hexMessageID() func(uint64) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := uint64(binary.BigEndian.Uint32(b[:])|1<<31) << 32
	return func(n uint64) string {
		var buf [16]byte
		s := strconv.AppendUint(buf[:0], base+n, 16)
		return string(s)
	}
}

// Submit is the record of one submit_sm the Server received on a bound
// session, whatever it was answered. Byte fields are copies.
type Submit struct {
	Host     string // address of the listener it came in on
	Session  uint64 // session number, unique per Server, from 1
	SystemID string
	Seq      uint32
	Status   pdu.Status // what submit_sm_resp said
	// MessageID is the id given in submit_sm_resp; empty when rejected.
	MessageID string

	ServiceType        string
	SourceTON          byte
	SourceNPI          byte
	Source             string
	DestTON            byte
	DestNPI            byte
	Dest               string
	ESMClass           byte
	ProtocolID         byte
	PriorityFlag       byte
	RegisteredDelivery byte
	DataCoding         byte
	ShortMessage       []byte
	Text               []byte   // message_payload when present, else short_message
	TLVs               pdu.TLVs // all TLVs in wire order
}

// String formats the submit_sm on one line: where it came from, its
// answer, every field and every TLV in wire order, for a trace.
func (s Submit) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "submit_sm host=%s session=%d system_id=%q seq=%d -> %v message_id=%q", s.Host, s.Session, s.SystemID, s.Seq, s.Status, s.MessageID)
	fmt.Fprintf(&b, " service_type=%q source=%d/%d/%q dest=%d/%d/%q esm_class=0x%02X protocol_id=%d priority=%d registered_delivery=%d data_coding=%d short_message=%q",
		s.ServiceType, s.SourceTON, s.SourceNPI, s.Source, s.DestTON, s.DestNPI, s.Dest, s.ESMClass, s.ProtocolID, s.PriorityFlag, s.RegisteredDelivery, s.DataCoding, s.ShortMessage)
	for tag, v := range s.TLVs.All() {
		fmt.Fprintf(&b, " tlv[0x%04X]=%q", uint16(tag), v)
	}
	return b.String()
}

// MessageClass returns the GatewayAPI message_class TLV (0x2900).
func (s Submit) MessageClass() (string, bool) {
	v, ok := s.TLVs.Lookup(pdu.TagMessageClass)
	return string(v), ok
}

// UserMessageReference returns TLV user_message_reference (0x0204).
func (s Submit) UserMessageReference() (uint16, bool) {
	return s.TLVs.Uint16(pdu.TagUserMessageReference)
}

// Stats are the Server's counters since New.
type Stats struct {
	Binds        uint64 // successful binds
	BindFailures uint64 // binds refused (credentials, malformed, already bound)

	Submits   uint64 // submit_sm received on bound sessions
	Accepted  uint64 // answered ESME_ROK
	Throttled uint64 // answered ESME_RTHROTTLED
	Rejected  uint64 // answered any other error status

	DLRsSent  uint64 // deliver_sm receipts written, resends included
	DLRsAcked uint64 // receipts answered ESME_ROK
	MOsSent   uint64 // deliver_sm MOs written, resends included
	MOsAcked  uint64 // MOs answered ESME_ROK
	Resent    uint64 // reports queued again: session lost, error answer or timeout
	Dropped   uint64 // reports dropped because an account had MaxPending waiting

	SessionsBound int // sessions bound now
	Pending       int // reports waiting for a session (not in any window)
}
