// gateway/edge: CurveZMQ plumbing shared by the sockets at cellgate's edges (sources → gateway
// ingest, receiver → consumers): the ZAP authenticator that admits only configured keys, the
// client-side connect that waits for the CURVE handshake and turns a refusal into a clear
// error, and Z85 key handling.
//
// Thread-safety: a ZapAuthenticator runs one thread of its own; start/stop from one thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "gateway/common/rate_log.h"
#include "gateway/common/status.h"

namespace cg::edge {

inline constexpr std::size_t curve_key_bytes = 32;
inline constexpr std::size_t z85_key_chars = 40;
using CurveKey = std::array<std::uint8_t, curve_key_bytes>;

// Decodes a 40-character Z85 CURVE key. Errors: malformed.
Result<CurveKey> decode_z85_key(std::string_view z85);

// A CURVE key pair in Z85, as sources and consumers present themselves at the edges (here, not
// in ingest or deliver, so that both edges reach it without one role depending on the other).
struct KeyPair {
  std::string public_z85;
  std::string secret_z85;
};
// A fresh CURVE key pair (zmq_curve_keypair).
KeyPair curve_keypair();
// The public key of a secret key. Errors: malformed.
Result<std::string> curve_public(std::string_view secret_z85);

// Answers ZAP (RFC 27) requests in `context`: a CURVE client key listed in `names` is admitted
// and its name becomes the connection's User-Id (zmq_msg_gets(msg, "User-Id")); any other key
// is refused and counted. One per context.
class ZapAuthenticator final {
 public:
  // Keeps references to `context`, `failures` and `log` (may be null), which must outlive it.
  // Each refused key is counted in `failures` and, when `log` is given, logged (rate-limited,
  // reason "refused_key") naming `what` ("ingest", "deliver"), the key and the peer address.
  ZapAuthenticator(zmq::context_t& context, std::map<CurveKey, std::string> names,
                   std::atomic<std::uint64_t>& failures, RateLimitedLog* log = nullptr,
                   std::string what = "");
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  Status start();  // binds inproc://zeromq.zap.01 and starts the thread. Errors: io.
  void stop();

 private:
  void loop();
  std::string refusal_text(const std::vector<zmq::message_t>& request) const;
  zmq::context_t& context_;
  std::map<CurveKey, std::string> names_;
  std::atomic<std::uint64_t>& failures_;
  RateLimitedLog* log_;
  std::string what_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Configures `socket` as a CURVE server with `secret_z85` in ZAP domain `domain`.
Status make_curve_server(zmq::socket_t& socket, std::string_view secret_z85, const char* domain);

// Configures `socket` (in `context`) as a CURVE client, connects to `endpoint` and waits up to
// `timeout_ms` for the handshake, or until `*cancel` turns true (checked every 50 ms).
// Errors: unauthenticated (key refused or wrong server key), io (timeout, cancelled, socket
// error).
Status connect_curve_client(zmq::context_t& context, zmq::socket_t& socket,
                            const std::string& endpoint, const std::string& server_public_z85,
                            const std::string& public_z85, const std::string& secret_z85,
                            int timeout_ms, const std::atomic<bool>* cancel = nullptr);

// Binds `socket` to `endpoint` (":0" → an ephemeral port) and returns the bound endpoint.
Result<std::string> bind(zmq::socket_t& socket, const std::string& endpoint);

// The payload of a message as bytes.
inline std::span<const std::uint8_t> bytes(const zmq::message_t& m) {
  return {static_cast<const std::uint8_t*>(m.data()), m.size()};
}

}  // namespace cg::edge
