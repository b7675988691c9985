#include "gateway/roles/gateway/guard_port.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <zmq.hpp>

#include "gateway/common/limits.h"
#include "gateway/edge/edge.h"
#include "gateway/node/node_common.h"

namespace cg::node {
namespace {

class LocalGuard final : public GuardPort {
 public:
  explicit LocalGuard(signatory::Signatory& s) : signatory_(s) {}
  Result<std::vector<std::uint8_t>> call(std::span<const std::uint8_t> request) override {
    return signatory_.handle(request);
  }

 private:
  signatory::Signatory& signatory_;
};

// CURVE framing around the largest reply (ZeroMQ drops a peer that sends more).
constexpr std::int64_t socket_msg_bytes_max =
    static_cast<std::int64_t>(limits::guard_message_bytes_max) + 4096;

class RemoteGuard final : public GuardPort {
 public:
  RemoteGuard(config::GuardClient c, edge::KeyPair me)
      : config_(std::move(c)), me_(std::move(me)) {}
  ~RemoteGuard() override { socket_.reset(); }

  void cancel() override { cancelled_.store(true); }

  Result<std::vector<std::uint8_t>> call(std::span<const std::uint8_t> request) override {
    if (cancelled_.load()) return io_error("guard: the node is stopping");
    if (!socket_) CG_RETURN_IF_ERROR(connect());
    try {
      if (!socket_->send(zmq::buffer(request.data(), request.size()), zmq::send_flags::none)) {
        socket_.reset();
        return io_error("guard: cannot send to " + config_.endpoint);
      }
      // In slices, so that a stopping node does not wait out the timeout.
      zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(config_.timeout_ms);
      while (!(item.revents & ZMQ_POLLIN) && !cancelled_.load()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        zmq::poll(&item, 1, std::min(left, std::chrono::milliseconds(cancel_poll_ms)));
      }
      if (!(item.revents & ZMQ_POLLIN) && cancelled_.load()) {
        socket_.reset();
        return io_error("guard: the node is stopping");
      }
      if (!(item.revents & ZMQ_POLLIN)) {
        // A REQ socket that got no reply cannot send again: a new one asks again.
        socket_.reset();
        return io_error("guard: no answer from " + config_.endpoint + " within " +
                        std::to_string(config_.timeout_ms) + " ms");
      }
      zmq::message_t reply;
      if (!socket_->recv(reply, zmq::recv_flags::dontwait)) {
        socket_.reset();
        return io_error("guard: no answer from " + config_.endpoint);
      }
      const auto b = edge::bytes(reply);
      return std::vector<std::uint8_t>(b.begin(), b.end());
    } catch (const zmq::error_t& e) {
      socket_.reset();
      return io_error(std::string("guard: ") + e.what());
    }
  }

 private:
  Status connect() {
    auto s = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::req);
    try {
      s->set(zmq::sockopt::linger, 0);
      s->set(zmq::sockopt::maxmsgsize, socket_msg_bytes_max);
    } catch (const zmq::error_t& e) {
      return io_error(std::string("guard: socket: ") + e.what());
    }
    CG_RETURN_IF_ERROR(edge::connect_curve_client(
                           context_, *s, config_.endpoint, config_.curve_public, me_.public_z85,
                           me_.secret_z85, static_cast<int>(config_.timeout_ms), &cancelled_)
                           .with_context("guard " + config_.endpoint));
    socket_ = std::move(s);
    return {};
  }

  static constexpr int cancel_poll_ms = 50;

  config::GuardClient config_;
  edge::KeyPair me_;
  std::atomic<bool> cancelled_{false};
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> socket_;
};

}  // namespace

std::unique_ptr<GuardPort> local_guard(signatory::Signatory& signatory) {
  return std::make_unique<LocalGuard>(signatory);
}

Result<std::unique_ptr<GuardPort>> remote_guard(const config::GuardClient& guard) {
  CG_ASSIGN_OR_RETURN(auto secret, read_first_line(guard.curve_secret_file));
  CG_ASSIGN_OR_RETURN(auto pub, edge::curve_public(secret));
  return std::unique_ptr<GuardPort>(
      std::make_unique<RemoteGuard>(guard, edge::KeyPair{pub, secret}));
}

}  // namespace cg::node
