// Package store defines what smpp-mux keeps durably: the map from the
// provider's message ids to the client that sent each message, and a queue
// per client of delivery reports and MO messages waiting to be delivered.
//
// The mux's own durability job is exactly this: a submit_sm_resp reaches
// its client only after the message id is stored, and a deliver_sm_resp
// reaches the provider only after the report is stored. Implementations
// are store modules (store.memory, store.bolt, store.redis)
// chosen by [store].module; storetest runs one contract suite against
// each.
//
// Stores that several instances share also offer FleetLimiter (fleet.go):
// slots and rate limits over the whole fleet, which the mux draws on
// through Bucket (bucket.go) and its leases.
//
// Start with Store in store.go.
package store
