// gateway/audit: the node's own audit log — one record for every decision and every rejection,
// in a hash chain, stored in the node's LMDB store alongside the state it describes.
//
// Each record is a schema::AuditRecord whose previousHash is the BLAKE2b-256 of the canonical
// bytes of the record before it (32 zero bytes for the first). Appending happens inside the
// caller's WriteTxn, so a decision and its record commit together or not at all. verify()
// walks the chain and names the first record that does not fit: a changed, removed, inserted
// or reordered record breaks the chain at that point. (This proves integrity against a change
// made without re-hashing everything after it; an attacker who can rewrite the whole store
// can rewrite the chain. The relay's transparency log — Merkle tree, signed heads sent to both
// parties — is what holds the supervisor to one history.)
//
// Thread-safety: append() runs inside a WriteTxn (LMDB serialises writers) and keeps no state
// of its own, so an AuditLog may be shared by threads.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/suite.h"
#include "gateway/common/status.h"
#include "gateway/store/store.h"
#include "schemas/audit.capnp.h"

namespace cg::audit {

// The chain hash is the deployment suite's (BLAKE2b-256 in modern and modern-aes, SHA-384 in
// cnsa); the store records which suite, so a verifier needs nothing but the store.
using Hash = std::vector<std::uint8_t>;

// What a node records; the log fills in time-independent chain fields.
struct Event {
  std::int64_t time_ns = 0;
  schema::AuditEvent event = schema::AuditEvent::UNSPECIFIED;
  std::span<const std::uint8_t> item_id;
  std::string_view origin;
  std::string_view destination;
  std::uint32_t stream = 0;
  std::uint64_t seq = 0;
  std::uint64_t rules_version = 0;
  std::string_view reason;  // short, machine-readable
  std::string_view detail;  // the explanation a person reads
};

class AuditLog final {
 public:
  // Opens (creating) the audit tables in `env` (which must outlive the log) for node `node`,
  // hashing under `suite` (which must outlive the log). A new store records the suite; a store
  // whose chain is under another suite is refused (malformed), never mixed. A store written
  // before the suite was recorded holds a modern (BLAKE2b) chain.
  static Result<AuditLog> open(store::Env& env, std::string node, const crypto::Suite& suite);

  // Appends inside `txn` and returns the record's index (from 1). Durable when the caller
  // commits; an aborted transaction leaves no trace. Errors: io, overloaded (store full).
  Result<std::uint64_t> append(store::WriteTxn& txn, const Event& event);

  // The committed head: (number of records, hash of the last record).
  Result<std::pair<std::uint64_t, Hash>> head() const;

 private:
  AuditLog(store::Env* env, std::string node, const crypto::Suite* suite, store::Table records,
           store::Table meta)
      : env_(env), node_(std::move(node)), suite_(suite), records_(records), meta_(meta) {}

  store::Env* env_;
  std::string node_;
  const crypto::Suite* suite_;
  store::Table records_, meta_;
};

struct VerifyReport {
  std::uint64_t records = 0;
  Hash head;
  crypto::SuiteId suite = crypto::SuiteId::modern;  // the chain's hash, as the store records it
  // Set when the chain is broken: the first bad index and why.
  std::optional<std::uint64_t> broken_at;
  std::string problem;
};

// Walks the whole log in `env`. `visit`, if given, sees each record that verified, in order.
// Errors (Status) only for I/O; a broken chain is a report with broken_at set.
Result<VerifyReport> verify(
    store::Env& env,
    const std::function<void(std::uint64_t, schema::AuditRecord::Reader)>& visit = {});

// Decodes one stored record (bounded, validated). Errors: malformed.
Status check_record(std::span<const std::uint8_t> bytes);

std::string_view event_name(schema::AuditEvent event);

}  // namespace cg::audit
