#include <capnp/message.h>

#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "gateway/common/limits.h"
#include "gateway/deliver/deliver.h"
#include "gateway/edge/edge.h"
#include "gateway/wire/wire.h"

namespace cg::deliver {
namespace {

// The loop looks at the store for new items at least this often, so a delivery waits at most
// this long after it was enqueued.
constexpr int poll_ms = 10;
const wire::DecodeLimits consumer_limits{limits::consumer_message_bytes_max,
                                         limits::consumer_message_bytes_max / 8 * 2};
const wire::DecodeLimits delivery_limits{limits::item_bytes_max + 4096,
                                         (limits::item_bytes_max + 4096) / 8 * 2};

std::vector<std::uint8_t> delivery_bytes(const Pending& p) {
  capnp::MallocMessageBuilder message;
  auto d = message.initRoot<schema::Delivery>();
  d.setOrigin(p.origin);
  d.setStream(p.stream);
  d.setSeq(p.seq);
  d.setLogIndex(p.log_index);
  d.setItem(kj::arrayPtr(p.item.data(), p.item.size()));
  d.setDeliveryId(p.delivery_id);
  return wire::to_flat_bytes(message);
}

}  // namespace

Result<ConsumerRequest> parse_consumer_message(std::span<const std::uint8_t> bytes) {
  ConsumerRequest req;
  auto decoded = wire::decode_message<schema::ConsumerMessage>(
      bytes, consumer_limits, [&req](schema::ConsumerMessage::Reader m) -> Status {
        switch (m.which()) {
          case schema::ConsumerMessage::READY:
            req.ready = true;
            req.window = m.getReady();
            if (req.window == 0) return malformed("consumer: ready with an empty window");
            return {};
          case schema::ConsumerMessage::ACK: {
            auto ack = m.getAck();
            if (!wire::is_clean_name(wire::view(ack.getOrigin()))) {
              return malformed("consumer: ack origin is not a valid name");
            }
            req.ack_delivery_id = ack.getDeliveryId();
            if (req.ack_delivery_id == 0) return malformed("consumer: ack without delivery id");
            return {};
          }
        }
        return malformed("consumer: unknown message");
      });
  if (!decoded.ok()) return decoded.status();
  return req;
}

Result<Delivered> parse_delivery(std::span<const std::uint8_t> bytes) {
  Delivered out;
  auto decoded = wire::decode_message<schema::Delivery>(
      bytes, delivery_limits, [&out](schema::Delivery::Reader d) -> Status {
        if (!wire::is_clean_name(wire::view(d.getOrigin()))) {
          return malformed("delivery: origin is not a valid name");
        }
        if (d.getSeq() == 0 || d.getDeliveryId() == 0) return malformed("delivery: zero seq or id");
        out.origin = std::string(wire::view(d.getOrigin()));
        out.stream = d.getStream();
        out.seq = d.getSeq();
        out.log_index = d.getLogIndex();
        out.delivery_id = d.getDeliveryId();
        out.item.assign(d.getItem().begin(), d.getItem().end());
        return {};
      });
  if (!decoded.ok()) return decoded.status();
  return out;
}

struct DeliveryServer::Impl {
  ServerOptions options;
  Outbox& outbox;
  const Clock& clock;
  Counters& counters;
  zmq::context_t context{1};
  std::unique_ptr<edge::ZapAuthenticator> zap;
  std::unique_ptr<zmq::socket_t> router;
  std::atomic<bool> stopping{false};
  std::thread thread;

  struct Consumer {
    std::uint32_t window = 0;
    std::uint32_t in_flight = 0;
  };
  struct InFlight {
    std::string consumer;
    std::int64_t sent_ms = 0;
  };
  std::map<std::string, Consumer> consumers;              // by routing id
  std::unordered_map<std::uint64_t, InFlight> in_flight;  // by delivery id
  std::deque<std::uint64_t> redeliver;                    // timed out, to send again
  std::uint64_t read_after = 0;                           // highest id handed out from the store

  Impl(ServerOptions o, Outbox& b, const Clock& c, Counters& k)
      : options(std::move(o)), outbox(b), clock(c), counters(k) {}

  void loop();
  void receive_all();
  void expire();
  void dispatch();
  bool send_to(const std::string& consumer, const Pending& p);
};

void DeliveryServer::Impl::receive_all() {
  std::vector<std::uint64_t> acks;
  for (;;) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(*router, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
    if (parts.size() != 2) {
      counters.bad_messages.fetch_add(1);
      continue;
    }
    auto req = parse_consumer_message(edge::bytes(parts[1]));
    if (!req.ok()) {
      counters.bad_messages.fetch_add(1);
      continue;
    }
    std::string id = parts[0].to_string();
    if (req->ready) {
      consumers[id].window = std::min(req->window, options.window_max);
      counters.consumers_ready.fetch_add(1);
      continue;
    }
    auto it = in_flight.find(req->ack_delivery_id);
    if (it != in_flight.end()) {
      auto c = consumers.find(it->second.consumer);
      if (c != consumers.end() && c->second.in_flight > 0) --c->second.in_flight;
      in_flight.erase(it);
    }
    acks.push_back(req->ack_delivery_id);
  }
  if (acks.empty()) return;
  auto removed = outbox.acknowledge(acks);
  if (removed.ok()) {
    counters.acknowledged.fetch_add(*removed);
    counters.duplicate_acks.fetch_add(acks.size() - *removed);
  }
  // On a store error the acks are lost; the items stay queued and are delivered again later
  // (at-least-once), which the consumer's deduplication absorbs.
}

void DeliveryServer::Impl::expire() {
  const std::int64_t now_ms = clock.monotonic_ns() / ns_per_ms;
  for (auto it = in_flight.begin(); it != in_flight.end();) {
    if (now_ms - it->second.sent_ms < options.redeliver_after_ms) {
      ++it;
      continue;
    }
    auto c = consumers.find(it->second.consumer);
    if (c != consumers.end() && c->second.in_flight > 0) --c->second.in_flight;
    redeliver.push_back(it->first);
    it = in_flight.erase(it);
  }
}

bool DeliveryServer::Impl::send_to(const std::string& consumer, const Pending& p) {
  auto bytes = delivery_bytes(p);
  std::array<zmq::const_buffer, 2> out = {zmq::buffer(consumer), zmq::buffer(bytes)};
  try {
    if (!zmq::send_multipart(*router, out, zmq::send_flags::dontwait)) return false;
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH: the consumer is gone
  }
  in_flight[p.delivery_id] = {consumer, clock.monotonic_ns() / ns_per_ms};
  consumers[consumer].in_flight++;
  counters.delivered.fetch_add(1);
  return true;
}

void DeliveryServer::Impl::dispatch() {
  for (auto c = consumers.begin(); c != consumers.end();) {
    bool gone = false;
    while (!gone && c->second.in_flight < c->second.window) {
      std::optional<Pending> next;
      if (!redeliver.empty()) {
        auto got = outbox.get(redeliver.front());
        redeliver.pop_front();
        if (!got.ok() || !got->has_value()) continue;  // acknowledged meanwhile
        next = std::move(**got);
        counters.redelivered.fetch_add(1);
      } else {
        auto batch = outbox.read(read_after, 1);
        if (!batch.ok() || batch->empty()) break;
        next = std::move((*batch)[0]);
        read_after = next->delivery_id;
      }
      if (!send_to(c->first, *next)) {
        redeliver.push_front(next->delivery_id);
        gone = true;
      }
    }
    if (gone && c->second.in_flight == 0) {
      c = consumers.erase(c);
    } else {
      ++c;
    }
  }
}

void DeliveryServer::Impl::loop() {
  while (!stopping.load()) {
    zmq::pollitem_t item{router->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(poll_ms));
    if (item.revents & ZMQ_POLLIN) receive_all();
    expire();
    dispatch();
  }
}

DeliveryServer::DeliveryServer(ServerOptions options, Outbox& outbox, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), outbox, clock, counters_)) {}

DeliveryServer::~DeliveryServer() { stop(); }

Status DeliveryServer::start() {
  Impl& s = *impl_;
  std::map<edge::CurveKey, std::string> names;
  for (const auto& c : s.options.consumers) {
    auto key = edge::decode_z85_key(c.public_z85);
    if (!key.ok()) return key.status().with_context("deliver: consumer " + c.consumer);
    names[*key] = c.consumer;
  }
  if (s.options.window_max == 0) return malformed("deliver: window_max must be positive");
  s.zap = std::make_unique<edge::ZapAuthenticator>(
      s.context, std::move(names), counters_.auth_failures, s.options.log, "deliver");
  CG_RETURN_IF_ERROR(s.zap->start());
  s.router = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::router);
  Status curve = edge::make_curve_server(*s.router, s.options.secret_z85, "cellgate.deliver");
  if (!curve.ok()) return curve.with_context("deliver: receiver secret key");
  try {
    s.router->set(zmq::sockopt::maxmsgsize,
                  static_cast<std::int64_t>(limits::consumer_message_bytes_max));
    s.router->set(zmq::sockopt::sndhwm, s.options.socket_hwm);
    s.router->set(zmq::sockopt::rcvhwm, s.options.socket_hwm);
    s.router->set(zmq::sockopt::linger, 0);
    s.router->set(zmq::sockopt::router_mandatory, 1);
  } catch (const zmq::error_t& e) {
    return io_error(std::string("deliver: socket options: ") + e.what());
  }
  auto bound = edge::bind(*s.router, s.options.endpoint);
  if (!bound.ok()) return bound.status().with_context("deliver");
  bound_endpoint_ = *bound;
  s.thread = std::thread([&s] { s.loop(); });
  return {};
}

void DeliveryServer::stop() {
  if (!impl_) return;
  impl_->stopping.store(true);
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->zap) impl_->zap->stop();
  impl_->router.reset();
}

// --- Consumer client -------------------------------------------------------------------------

struct ConsumerClient::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
};

ConsumerClient::ConsumerClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsumerClient::~ConsumerClient() = default;

namespace {
Status send_message(zmq::socket_t& socket, capnp::MallocMessageBuilder& message) {
  auto bytes = wire::to_flat_bytes(message);
  try {
    if (!socket.send(zmq::buffer(bytes), zmq::send_flags::none))
      return io_error("consumer: send timed out");
  } catch (const zmq::error_t& e) {
    return io_error(std::string("consumer: send: ") + e.what());
  }
  return {};
}
}  // namespace

Result<std::unique_ptr<ConsumerClient>> ConsumerClient::connect(
    const std::string& endpoint, const std::string& server_public_z85, const edge::KeyPair& keys,
    std::uint32_t window, int timeout_ms) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->socket.set(zmq::sockopt::maxmsgsize,
                     static_cast<std::int64_t>(delivery_limits.bytes_max));
    impl->socket.set(zmq::sockopt::linger, 1000);
    impl->socket.set(zmq::sockopt::sndtimeo, timeout_ms);
  } catch (const zmq::error_t& e) {
    return io_error(std::string("consumer: ") + e.what());
  }
  Status s = edge::connect_curve_client(impl->context, impl->socket, endpoint, server_public_z85,
                                        keys.public_z85, keys.secret_z85, timeout_ms);
  if (!s.ok()) return s.with_context("consumer");
  capnp::MallocMessageBuilder message;
  message.initRoot<schema::ConsumerMessage>().setReady(window);
  CG_RETURN_IF_ERROR(send_message(impl->socket, message));
  return std::unique_ptr<ConsumerClient>(new ConsumerClient(std::move(impl)));
}

Result<Delivered> ConsumerClient::receive(int timeout_ms) {
  try {
    impl_->socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
    zmq::message_t message;
    if (!impl_->socket.recv(message, zmq::recv_flags::none)) {
      return io_error("consumer: nothing within " + std::to_string(timeout_ms) + " ms");
    }
    return parse_delivery(edge::bytes(message));
  } catch (const zmq::error_t& e) {
    return io_error(std::string("consumer: receive: ") + e.what());
  }
}

Status ConsumerClient::acknowledge(const Delivered& d) {
  capnp::MallocMessageBuilder message;
  auto ack = message.initRoot<schema::ConsumerMessage>().initAck();
  ack.setOrigin(d.origin);
  ack.setStream(d.stream);
  ack.setSeq(d.seq);
  ack.setDeliveryId(d.delivery_id);
  return send_message(impl_->socket, message);
}

}  // namespace cg::deliver
