#include <chrono>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "gateway/common/limits.h"
#include "gateway/edge/edge.h"
#include "gateway/ingest/ingest.h"
#include "gateway/wire/wire.h"

namespace cg::ingest {
namespace {

const wire::DecodeLimits ack_limits{limits::ingest_ack_bytes_max,
                                    limits::ingest_ack_bytes_max / 8 * 2};

const char* reason_name(schema::RejectReason r) {
  switch (r) {
    case schema::RejectReason::NONE:
      return "none";
    case schema::RejectReason::MALFORMED:
      return "malformed";
    case schema::RejectReason::TOO_LARGE:
      return "tooLarge";
    case schema::RejectReason::UNKNOWN_SOURCE:
      return "unknownSource";
    case schema::RejectReason::OVERLOADED:
      return "overloaded";
    case schema::RejectReason::STORE_FAILED:
      return "storeFailed";
  }
  return "unknown";
}

}  // namespace

struct SourceClient::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
};

SourceClient::SourceClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SourceClient::~SourceClient() = default;

Result<std::unique_ptr<SourceClient>> SourceClient::connect(const std::string& endpoint,
                                                            const std::string& server_public_z85,
                                                            const KeyPair& keys, int timeout_ms) {
  auto impl = std::make_unique<Impl>();
  try {
    auto& s = impl->socket;
    s.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(limits::ingest_ack_bytes_max));
    s.set(zmq::sockopt::linger, 2000);
    s.set(zmq::sockopt::sndhwm, 1000);
    s.set(zmq::sockopt::rcvhwm, 1000);
  } catch (const zmq::error_t& e) {
    return io_error(std::string("source: ") + e.what());
  }
  Status s = edge::connect_curve_client(impl->context, impl->socket, endpoint, server_public_z85,
                                        keys.public_z85, keys.secret_z85, timeout_ms);
  if (s.code() == Code::unauthenticated && s.reason() == "the server refused this key") {
    return unauthenticated("source: the gateway refused this source's key");
  }
  if (!s.ok()) return s.with_context("source");
  return std::unique_ptr<SourceClient>(new SourceClient(std::move(impl)));
}

Status SourceClient::send(std::span<const std::uint8_t> item, int timeout_ms) {
  try {
    impl_->socket.set(zmq::sockopt::sndtimeo, timeout_ms);
    if (!impl_->socket.send(zmq::buffer(item.data(), item.size()), zmq::send_flags::none)) {
      return overloaded("source: gateway did not take the item within " +
                        std::to_string(timeout_ms) + " ms (back-pressure)");
    }
    return {};
  } catch (const zmq::error_t& e) {
    return io_error(std::string("source: send: ") + e.what());
  }
}

Result<Ack> SourceClient::receive_ack(int timeout_ms) {
  try {
    impl_->socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
    zmq::message_t message;
    if (!impl_->socket.recv(message, zmq::recv_flags::none)) {
      return io_error("source: no ack within " + std::to_string(timeout_ms) + " ms");
    }
    return parse_ack({static_cast<const std::uint8_t*>(message.data()), message.size()});
  } catch (const zmq::error_t& e) {
    return io_error(std::string("source: receive: ") + e.what());
  }
}

namespace {
// Reads every field of the ack; runs inside the decode boundary (may throw kj::Exception).
Status read_ack(schema::SubmitAck::Reader a, Ack& ack) {
  ack.item_id.assign(a.getItemId().begin(), a.getItemId().end());
  if (ack.item_id.size() > limits::item_id_bytes) return malformed("ack: item id too long");
  ack.accepted = a.getResult() == schema::AckResult::ACCEPTED;
  if (!ack.accepted && a.getResult() != schema::AckResult::REJECTED) {
    return malformed("ack: unknown result");
  }
  ack.reason = reason_name(a.getReason());
  if (ack.reason == "unknown") return malformed("ack: unknown reason");
  if (ack.accepted != (a.getReason() == schema::RejectReason::NONE)) {
    return malformed("ack: result and reason disagree");
  }
  if (a.getDetail().size() > 4096) return malformed("ack: detail too long");
  ack.detail = std::string(wire::view(a.getDetail()));
  ack.ingest_seq = a.getIngestSeq();
  return {};
}
}  // namespace

Result<Ack> parse_ack(std::span<const std::uint8_t> bytes) {
  Ack ack;
  auto decoded = wire::decode_message<schema::SubmitAck>(
      bytes, ack_limits, [&ack](schema::SubmitAck::Reader a) { return read_ack(a, ack); });
  if (!decoded.ok()) return decoded.status();
  return ack;
}

}  // namespace cg::ingest
