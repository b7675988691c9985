#include "gateway/edge/edge.h"

#include <chrono>
#include <cstring>
#include <vector>
#include <zmq_addon.hpp>

#include "gateway/common/assert.h"

namespace cg::edge {
namespace {
constexpr int poll_ms = 50;
}

Result<CurveKey> decode_z85_key(std::string_view z85) {
  CurveKey out{};
  if (z85.size() != z85_key_chars) return malformed("CURVE key must be 40 Z85 characters");
  std::string copy(z85);
  if (zmq_z85_decode(out.data(), copy.c_str()) == nullptr) return malformed("CURVE key is not Z85");
  return out;
}

// "ingest: refused CURVE client key <z85> from 127.0.0.1 (not configured)", from a ZAP request
// (version, request id, domain, address, identity, mechanism, credentials...).
std::string ZapAuthenticator::refusal_text(const std::vector<zmq::message_t>& request) const {
  std::string out = what_.empty() ? std::string() : what_ + ": ";
  const std::string address = request.size() > 3 ? request[3].to_string() : "?";
  if (request.size() >= 7 && request[5].to_string_view() == "CURVE" &&
      request[6].size() == curve_key_bytes) {
    char z85[41] = {};
    zmq_z85_encode(z85, static_cast<const std::uint8_t*>(request[6].data()), curve_key_bytes);
    return out + "refused CURVE client key " + z85 + " from " + address +
           " (not a configured peer)";
  }
  return out + "refused a client from " + address + " (not a CURVE handshake)";
}

ZapAuthenticator::ZapAuthenticator(zmq::context_t& context, std::map<CurveKey, std::string> names,
                                   std::atomic<std::uint64_t>& failures, RateLimitedLog* log,
                                   std::string what)
    : context_(context),
      names_(std::move(names)),
      failures_(failures),
      log_(log),
      what_(std::move(what)) {}

ZapAuthenticator::~ZapAuthenticator() { stop(); }

Status ZapAuthenticator::start() {
  try {
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
    socket_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return io_error(std::string("zap: ") + e.what());
  }
  thread_ = std::thread([this] { loop(); });
  return {};
}

void ZapAuthenticator::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

void ZapAuthenticator::loop() {
  while (!stopping_.load()) {
    zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(poll_ms));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> request;
    if (!zmq::recv_multipart(*socket_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
      continue;
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    std::string request_id = request.size() > 1 ? request[1].to_string() : "";
    std::string user_id;
    bool ok = false;
    if (request.size() >= 7 && request[0].to_string_view() == "1.0" &&
        request[5].to_string_view() == "CURVE" && request[6].size() == curve_key_bytes) {
      CurveKey key{};
      std::memcpy(key.data(), request[6].data(), curve_key_bytes);
      auto it = names_.find(key);
      if (it != names_.end()) {
        ok = true;
        user_id = it->second;
      }
    }
    if (!ok) {
      failures_.fetch_add(1);
      if (log_ != nullptr) log_->log("refused_key", refusal_text(request));
    }
    std::array<zmq::const_buffer, 6> reply = {
        zmq::str_buffer("1.0"),
        zmq::buffer(request_id),
        ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
        ok ? zmq::str_buffer("OK") : zmq::str_buffer("unknown key"),
        zmq::buffer(user_id),
        zmq::const_buffer()};
    zmq::send_multipart(*socket_, reply);
  }
}

Status make_curve_server(zmq::socket_t& socket, std::string_view secret_z85, const char* domain) {
  CG_ASSIGN_OR_RETURN(CurveKey secret, decode_z85_key(secret_z85));
  try {
    socket.set(zmq::sockopt::curve_server, 1);
    socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(secret.data(), secret.size()));
    socket.set(zmq::sockopt::zap_domain, domain);
  } catch (const zmq::error_t& e) {
    return io_error(std::string("curve server: ") + e.what());
  }
  return {};
}

Status connect_curve_client(zmq::context_t& context, zmq::socket_t& socket,
                            const std::string& endpoint, const std::string& server_public_z85,
                            const std::string& public_z85, const std::string& secret_z85,
                            int timeout_ms, const std::atomic<bool>* cancel) {
  try {
    socket.set(zmq::sockopt::curve_serverkey, server_public_z85);
    socket.set(zmq::sockopt::curve_publickey, public_z85);
    socket.set(zmq::sockopt::curve_secretkey, secret_z85);
    // Watch the handshake so a refused key is a clear error, not a silent retry loop.
    const std::string monitor_endpoint =
        "inproc://cg-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(&socket));
    if (zmq_socket_monitor(socket.handle(), monitor_endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0) {
      return io_error("cannot monitor socket");
    }
    zmq::socket_t monitor(context, zmq::socket_type::pair);
    monitor.connect(monitor_endpoint);
    socket.connect(endpoint);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Status result =
        io_error("no handshake with " + endpoint + " within " + std::to_string(timeout_ms) + " ms");
    while (std::chrono::steady_clock::now() < deadline) {
      if (cancel != nullptr && cancel->load()) {
        result = io_error("handshake with " + endpoint + " cancelled");
        break;
      }
      zmq::pollitem_t item{monitor.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(poll_ms));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> event;
      if (!zmq::recv_multipart(monitor, std::back_inserter(event))) continue;
      if (event.empty() || event[0].size() < 6) continue;
      std::uint16_t id = 0;
      std::memcpy(&id, event[0].data(), sizeof(id));
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        result = Status();
        break;
      }
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        result = unauthenticated("the server refused this key");
        break;
      }
      if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        result = unauthenticated("CURVE handshake failed (wrong server key?)");
        break;
      }
    }
    zmq_socket_monitor(socket.handle(), nullptr, 0);
    return result;
  } catch (const zmq::error_t& e) {
    return io_error(e.what());
  }
}

Result<std::string> bind(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    std::string e = endpoint;
    if (e.size() > 2 && e.ends_with(":0")) e.replace(e.size() - 1, 1, "*");
    socket.bind(e);
    return socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& err) {
    return io_error("cannot bind " + endpoint + ": " + err.what());
  }
}

KeyPair curve_keypair() {
  char pub[41] = {}, sec[41] = {};
  CG_ASSERT(zmq_curve_keypair(pub, sec) == 0);
  KeyPair k{pub, sec};
  // zmq_curve_keypair leaves the secret on the stack; wipe our copy of it.
  std::memset(sec, 0, sizeof(sec));
  return k;
}

Result<std::string> curve_public(std::string_view secret_z85) {
  if (secret_z85.size() != 40) return malformed("CURVE key must be 40 Z85 characters");
  std::string sec(secret_z85);
  char pub[41] = {};
  if (zmq_curve_public(pub, sec.c_str()) != 0) return malformed("CURVE secret key is not Z85");
  return std::string(pub);
}

}  // namespace cg::edge
