// gateway/ingest: how items enter a gateway — a CurveZMQ-authenticated ZeroMQ ROUTER socket
// that stores each valid item durably before acknowledging it — and the durable inbox the
// pipeline consumes from.
//
// Protocol (schemas/ingest.capnp): a source connects a DEALER socket with its CURVE key pair
// and the gateway's public key, and sends one message part per item (a serialised Item). For
// every part it receives exactly one SubmitAck: `accepted` with the item's inbox sequence only
// after the item is committed to the store, or `rejected` with a reason. Resending an item
// with the same id after it was accepted is acknowledged `accepted` again with the same
// sequence (sources retry on timeouts; the inbox stores each item once).
//
// Back-pressure: when the inbox holds `inbox_items_max` items the pipeline has not consumed,
// the server stops reading; ZeroMQ's queues fill and the source's sends block. Nothing is
// dropped. A full store answers `overloaded`.
//
// Threads: Server runs two threads of its own (the ZAP authenticator and the ingest loop);
// its public methods may be called from any one thread. Counters are atomics readable from
// anywhere. Inbox methods are thread-safe (LMDB transactions); consume() and pipeline reads
// are expected from one pipeline thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "gateway/common/clock.h"
#include "gateway/common/rate_log.h"
#include "gateway/common/status.h"
#include "gateway/edge/edge.h"
#include "gateway/store/store.h"

namespace cg::ingest {

// --- Durable inbox ------------------------------------------------------------------------

struct InboxEntry {
  std::uint64_t seq = 0;
  std::string source;
  std::int64_t received_ns = 0;
  std::vector<std::uint8_t> item;  // canonical Item bytes
  bool taken = false;              // a FLASH item already judged out of order (read_flash): skip it
};

class Inbox final {
 public:
  // Opens (creating) the inbox tables in `env`, which must outlive the Inbox.
  static Result<Inbox> open(store::Env& env);

  struct Appended {
    std::uint64_t seq;
    bool fresh;  // false when the item id was already in the inbox (a retry)
  };
  // Appends an item inside the caller's transaction; durable when the caller commits. A
  // `flash` item is also listed in the FLASH lane (read_flash), so it need not wait behind
  // the routine items received before it.
  Result<Appended> append(store::WriteTxn& txn, std::span<const std::uint8_t> item_id,
                          std::string_view source, std::int64_t received_ns,
                          std::span<const std::uint8_t> canonical_item, bool flash = false);

  // Up to `max` entries after the last consumed one, in order (copies). FLASH items already
  // taken out of order come back with `taken` set: skip them, and consume through them.
  Result<std::vector<InboxEntry>> read_pending(std::size_t max) const;
  // Up to `max` FLASH items not consumed and not taken, in order (copies).
  Result<std::vector<InboxEntry>> read_flash(std::size_t max) const;
  // Marks a FLASH item from read_flash judged, inside the caller's transaction.
  Status take(store::WriteTxn& txn, std::uint64_t seq);
  // Marks every entry up to and including `seq` consumed, inside the caller's transaction
  // (so the pipeline's own output and the consumption commit together).
  Status consume_through(store::WriteTxn& txn, std::uint64_t seq);
  // Deletes consumed entries with seq ≤ `seq` and their id index entries.
  Status prune_through(std::uint64_t seq);
  // Deletes consumed entries received before `cutoff_ns`, oldest first, at most `max` per
  // call (bounded work), with their id index entries: a source retrying such an old item
  // after this is no longer recognised. Returns how many went.
  Result<std::size_t> prune_before(std::int64_t cutoff_ns, std::size_t max);

  // Items appended and not consumed.
  Result<std::uint64_t> pending() const;
  Result<std::uint64_t> consumed_through() const;

 private:
  Inbox(store::Env* env, store::Table items, store::Table ids, store::Table meta,
        store::Table flash)
      : env_(env), items_(items), ids_(ids), meta_(meta), flash_(flash) {}
  store::Env* env_;
  store::Table items_, ids_, meta_;
  store::Table flash_;  // be64(seq) → 0 waiting / 1 taken, for FLASH items not yet consumed
};

// --- Server -------------------------------------------------------------------------------

struct SourceKey {
  std::string source;      // the source id items must carry
  std::string public_z85;  // its CURVE public key, Z85 (40 characters)
};

struct ServerOptions {
  std::string endpoint = "tcp://127.0.0.1:0";  // ":0" picks a free port; see Server::endpoint()
  std::string secret_z85;                      // the gateway's CURVE secret key
  std::vector<SourceKey> sources;
  std::size_t batch_items_max = 256;        // items per group commit
  std::uint64_t inbox_items_max = 100'000;  // back-pressure threshold
  int socket_hwm = 1000;                    // ZeroMQ high-water marks (messages)
  RateLimitedLog* log = nullptr;  // refused source keys are logged here (may be null); outlives
};

struct Counters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> retries{0};  // accepted again (already stored)
  std::atomic<std::uint64_t> rejected_malformed{0};
  std::atomic<std::uint64_t> rejected_too_large{0};
  std::atomic<std::uint64_t> rejected_unknown_source{0};
  std::atomic<std::uint64_t> rejected_overloaded{0};
  std::atomic<std::uint64_t> store_failures{0};
  std::atomic<std::uint64_t> auth_failures{0};    // connections refused by the authenticator
  std::atomic<std::uint64_t> acks_unroutable{0};  // source gone before its ack
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> backpressure_waits{0};
};

class Server final {
 public:
  // Keeps references to `env`, `inbox` and `clock`, which must outlive the Server.
  Server(ServerOptions options, store::Env& env, Inbox& inbox, const Clock& clock);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the options, binds and starts the threads. Errors: malformed (bad keys or
  // endpoint), io (bind failed).
  Status start();
  // Stops the threads; items acknowledged so far are durable. Idempotent.
  void stop();

  // The bound endpoint, e.g. "tcp://127.0.0.1:40123" (after start()).
  const std::string& endpoint() const { return bound_endpoint_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bound_endpoint_;
  Counters counters_;
};

// --- Source client ------------------------------------------------------------------------

struct Ack {
  std::vector<std::uint8_t> item_id;
  bool accepted = false;
  std::string reason;  // schema RejectReason name ("malformed", "tooLarge", ...) or "none"
  std::string detail;
  std::uint64_t ingest_seq = 0;
};

// Decodes a gateway's SubmitAck (what SourceClient::receive_ack does with the bytes).
// Errors: malformed.
Result<Ack> parse_ack(std::span<const std::uint8_t> bytes);

// CURVE key pairs are the edge's (gateway/edge); ingest's callers keep naming them here.
using edge::curve_keypair;
using edge::curve_public;
using edge::KeyPair;

class SourceClient final {
 public:
  // Connects and waits up to `timeout_ms` for the CURVE handshake. Errors: unauthenticated
  // when the gateway refuses the key, io on timeout or socket errors.
  static Result<std::unique_ptr<SourceClient>> connect(const std::string& endpoint,
                                                       const std::string& server_public_z85,
                                                       const KeyPair& keys, int timeout_ms);
  ~SourceClient();

  // Queues one serialised item. Blocks while ZeroMQ's high-water mark is reached (that is the
  // gateway's back-pressure) up to `timeout_ms`; Code::overloaded on timeout.
  Status send(std::span<const std::uint8_t> item, int timeout_ms = 30'000);
  // The next ack; Code::io on timeout, malformed if the gateway's answer does not decode.
  Result<Ack> receive_ack(int timeout_ms);

 private:
  struct Impl;
  explicit SourceClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cg::ingest
