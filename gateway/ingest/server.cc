#include <capnp/message.h>

#include <cstring>
#include <map>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "gateway/common/limits.h"
#include "gateway/edge/edge.h"
#include "gateway/ingest/ingest.h"
#include "gateway/wire/wire.h"

namespace cg::ingest {
namespace {

constexpr int poll_ms = 50;
// ZeroMQ disconnects a peer that sends a message above ZMQ_MAXMSGSIZE: the socket allows
// limits::ingest_message_bytes_max (several times the item bound) so that an over-limit item
// gets an explicit tooLarge ack instead of a silent hang-up; only a message above that hard cap
// loses the connection.
// ZeroMQ checks the limit against the CurveZMQ MESSAGE command that carries the message (its
// header, nonce, flags and MAC add under 64 bytes): the headroom keeps the cap at the size the
// source sent.
constexpr std::int64_t curve_message_overhead_bytes = 4096;
constexpr std::int64_t socket_msg_bytes_max =
    static_cast<std::int64_t>(limits::ingest_message_bytes_max) + curve_message_overhead_bytes;

std::vector<std::uint8_t> ack_bytes(std::span<const std::uint8_t> item_id, bool accepted,
                                    schema::RejectReason reason, std::string_view detail,
                                    std::uint64_t seq) {
  capnp::MallocMessageBuilder message;
  auto ack = message.initRoot<schema::SubmitAck>();
  ack.setItemId(kj::arrayPtr(item_id.data(), item_id.size()));
  ack.setResult(accepted ? schema::AckResult::ACCEPTED : schema::AckResult::REJECTED);
  ack.setReason(reason);
  ack.setDetail(kj::StringPtr(std::string(detail).c_str()));
  ack.setIngestSeq(seq);
  return wire::to_flat_bytes(message);
}

std::string too_large_detail(std::size_t bytes) {
  return "item of " + std::to_string(bytes) + " bytes exceeds the limit of " +
         std::to_string(limits::item_bytes_max);
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  store::Env& env;
  Inbox& inbox;
  const Clock& clock;
  Counters& counters;
  zmq::context_t context{1};
  std::unique_ptr<edge::ZapAuthenticator> zap;
  std::atomic<bool> stopping{false};
  std::thread ingest_thread;
  std::unique_ptr<zmq::socket_t> router;

  Impl(ServerOptions o, store::Env& e, Inbox& i, const Clock& c, Counters& k)
      : options(std::move(o)), env(e), inbox(i), clock(c), counters(k) {}

  void ingest_loop();
  // Sends one ack to the peer `routing` names; an ack that cannot be routed is counted.
  void send_ack(const zmq::message_t& routing, const std::vector<std::uint8_t>& ack);
  void handle_batch(std::vector<std::pair<zmq::message_t, zmq::message_t>>& batch);
};

void Server::Impl::send_ack(const zmq::message_t& routing, const std::vector<std::uint8_t>& ack) {
  std::array<zmq::const_buffer, 2> out = {zmq::buffer(routing.data(), routing.size()),
                                          zmq::buffer(ack)};
  try {
    if (!zmq::send_multipart(*router, out, zmq::send_flags::dontwait)) {
      counters.acks_unroutable.fetch_add(1);
    }
  } catch (const zmq::error_t&) {
    counters.acks_unroutable.fetch_add(1);  // EHOSTUNREACH: the source went away
  }
}

void Server::Impl::ingest_loop() {
  std::vector<std::pair<zmq::message_t, zmq::message_t>> batch;
  batch.reserve(options.batch_items_max);
  while (!stopping.load()) {
    // Back-pressure: do not take more from the socket while the pipeline is behind.
    auto pending = inbox.pending();
    if (pending.ok() && *pending >= options.inbox_items_max) {
      counters.backpressure_waits.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    const std::uint64_t room =
        pending.ok() ? options.inbox_items_max - *pending : options.batch_items_max;
    zmq::pollitem_t item{router->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(poll_ms));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    batch.clear();
    while (batch.size() < options.batch_items_max && batch.size() < room) {
      std::vector<zmq::message_t> parts;
      auto got = zmq::recv_multipart(*router, std::back_inserter(parts), zmq::recv_flags::dontwait);
      if (!got) break;
      counters.received.fetch_add(1);
      if (parts.size() != 2) {
        // [routing id][one item] is the protocol; anything else is malformed.
        counters.rejected_malformed.fetch_add(1);
        if (!parts.empty()) {
          auto ack = ack_bytes({}, false, schema::RejectReason::MALFORMED,
                               "expected exactly one message part per item", 0);
          send_ack(parts[0], ack);
        }
        continue;
      }
      if (parts[1].size() > limits::item_bytes_max) {
        // Answered now and freed: an over-limit message never waits in a batch.
        counters.rejected_too_large.fetch_add(1);
        auto ack = ack_bytes({}, false, schema::RejectReason::TOO_LARGE,
                             too_large_detail(parts[1].size()), 0);
        send_ack(parts[0], ack);
        continue;
      }
      batch.emplace_back(std::move(parts[0]), std::move(parts[1]));
    }
    if (!batch.empty()) handle_batch(batch);
  }
}

void Server::Impl::handle_batch(std::vector<std::pair<zmq::message_t, zmq::message_t>>& batch) {
  struct Verdict {
    std::vector<std::uint8_t> id;
    bool accepted = false;
    schema::RejectReason reason = schema::RejectReason::NONE;
    std::string detail;
    std::uint64_t seq = 0;
    bool fresh = false;
    bool valid = false;  // passed every check; stored if the transaction commits
  };
  std::vector<Verdict> verdicts(batch.size());
  auto txn_result = env.begin_write();
  Status txn_status = txn_result.status();
  store::WriteTxn* txn = txn_result.ok() ? &txn_result.value() : nullptr;
  const std::int64_t now = clock.now_ns();
  std::size_t to_store = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& [routing, payload] = batch[i];
    Verdict& v = verdicts[i];
    std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(payload.data()),
                                        payload.size());
    CG_ASSERT(bytes.size() <= limits::item_bytes_max);  // larger ones are answered on receipt
    auto item = wire::decode_item(bytes);
    if (!item.ok()) {
      v.reason = schema::RejectReason::MALFORMED;
      v.detail = item.status().reason();
      counters.rejected_malformed.fetch_add(1);
      continue;
    }
    auto root = item->root();
    auto id = root.getId();
    v.id.assign(id.begin(), id.end());
    const char* user_id = nullptr;
    try {
      user_id = payload.gets("User-Id");
    } catch (const zmq::error_t&) {
      user_id = nullptr;  // no authenticated identity: cannot be a configured source
    }
    std::string_view source(root.getSource().cStr(), root.getSource().size());
    if (user_id == nullptr || source != user_id) {
      v.reason = schema::RejectReason::UNKNOWN_SOURCE;
      v.detail = "item.source '" + std::string(source) + "' is not this connection's source";
      counters.rejected_unknown_source.fetch_add(1);
      continue;
    }
    v.valid = true;
    if (txn == nullptr) continue;  // the transaction failed; reported below
    auto appended = inbox.append(*txn, v.id, source, now, item->canonical_bytes(),
                                 root.getPrecedence() == schema::Precedence::FLASH);
    if (!appended.ok()) {
      // One failed append poisons the transaction: every valid item of the batch is refused.
      txn_status = appended.status();
      txn = nullptr;
      continue;
    }
    v.seq = appended->seq;
    v.fresh = appended->fresh;
    ++to_store;
  }
  Status committed = txn_status;
  if (txn != nullptr && to_store > 0) {
    committed = txn->commit();
    counters.commits.fetch_add(1);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Verdict& v = verdicts[i];
    v.accepted = v.valid && committed.ok();
    if (v.valid && !committed.ok()) {
      v.accepted = false;
      v.seq = 0;
      v.reason = committed.code() == Code::overloaded ? schema::RejectReason::OVERLOADED
                                                      : schema::RejectReason::STORE_FAILED;
      v.detail = committed.reason();
      (committed.code() == Code::overloaded ? counters.rejected_overloaded
                                            : counters.store_failures)
          .fetch_add(1);
    } else if (v.accepted) {
      (v.fresh ? counters.accepted : counters.retries).fetch_add(1);
    }
    send_ack(batch[i].first, ack_bytes(v.id, v.accepted, v.reason, v.detail, v.seq));
  }
}

Server::Server(ServerOptions options, store::Env& env, Inbox& inbox, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), env, inbox, clock, counters_)) {}

Server::~Server() { stop(); }

Status Server::start() {
  Impl& s = *impl_;
  std::map<edge::CurveKey, std::string> source_by_key;
  for (const auto& src : s.options.sources) {
    auto key = edge::decode_z85_key(src.public_z85);
    if (!key.ok()) return key.status().with_context("ingest: source " + src.source);
    if (src.source.empty() || src.source.size() > limits::name_bytes_max) {
      return malformed("ingest: bad source id '" + src.source + "'");
    }
    source_by_key[*key] = src.source;
  }
  if (s.options.batch_items_max == 0 || s.options.batch_items_max > limits::batch_items_max) {
    return malformed("ingest: batch_items_max out of range");
  }
  s.zap = std::make_unique<edge::ZapAuthenticator>(
      s.context, std::move(source_by_key), counters_.auth_failures, s.options.log, "ingest");
  CG_RETURN_IF_ERROR(s.zap->start());
  s.router = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::router);
  auto& r = *s.router;
  Status curve = edge::make_curve_server(r, s.options.secret_z85, "cellgate.ingest");
  if (!curve.ok()) return curve.with_context("ingest: gateway secret key");
  try {
    r.set(zmq::sockopt::maxmsgsize, socket_msg_bytes_max);
    r.set(zmq::sockopt::rcvhwm, s.options.socket_hwm);
    r.set(zmq::sockopt::sndhwm, s.options.socket_hwm);
    r.set(zmq::sockopt::linger, 0);
    r.set(zmq::sockopt::router_mandatory, 1);
  } catch (const zmq::error_t& e) {
    return io_error(std::string("ingest: socket options: ") + e.what());
  }
  auto bound = edge::bind(r, s.options.endpoint);
  if (!bound.ok()) return bound.status().with_context("ingest");
  bound_endpoint_ = *bound;
  s.ingest_thread = std::thread([&s] { s.ingest_loop(); });
  return {};
}

void Server::stop() {
  if (!impl_) return;
  impl_->stopping.store(true);
  if (impl_->ingest_thread.joinable()) impl_->ingest_thread.join();
  if (impl_->zap) impl_->zap->stop();
  impl_->router.reset();
}

}  // namespace cg::ingest
