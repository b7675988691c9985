// The filter's port to its release guard: a stopping gateway does not wait out the guard's
// timeout (GuardPort::cancel), whether the guard is silent or not there at all.
#include "gateway/roles/gateway/guard_port.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>
#include <zmq.hpp>

#include "gateway/edge/edge.h"
#include "tests/support/temp_dir.h"

namespace cg::node {
namespace {

constexpr std::uint32_t an_hour_ms = 3'600'000;  // longer than ctest waits: cancel must end it

class GuardPortTest : public ::testing::Test {
 protected:
  config::GuardClient client(const std::string& endpoint, const std::string& guard_public) {
    const auto me = edge::curve_keypair();
    const std::string file = tmp_.file("filter.curve");
    std::ofstream(file) << me.secret_z85 << "\n";
    return {.endpoint = endpoint,
            .curve_public = guard_public,
            .curve_secret_file = file,
            .timeout_ms = an_hour_ms};
  }
  // Calls in a thread, cancels from this one; the call's result.
  static Status call_then_cancel(GuardPort& port) {
    Status got;
    std::thread caller([&] {
      const std::uint8_t request[] = {1, 2, 3};
      got = port.call(request).status();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it start waiting
    port.cancel();
    caller.join();
    return got;
  }

  testing::TempDir tmp_{"cg-guard-port"};
};

TEST_F(GuardPortTest, CancelEndsAHandshakeWithAGuardThatIsNotThere) {
  const auto guard = edge::curve_keypair();
  // Nothing listens on the discard port of loopback: the handshake never completes.
  auto port = remote_guard(client("tcp://127.0.0.1:9", guard.public_z85));
  ASSERT_TRUE(port.ok()) << port.status().reason();
  const Status s = call_then_cancel(**port);
  EXPECT_EQ(s.code(), Code::io);
  // "cancelled" from the handshake it was in; "stopping" if a loaded machine ran cancel()
  // before the call began. Either way it returned (without cancel it would wait an hour).
  EXPECT_TRUE(s.reason().find("cancelled") != std::string::npos ||
              s.reason().find("stopping") != std::string::npos)
      << s.reason();
  // And every later call says so at once.
  const std::uint8_t request[] = {1};
  auto again = (*port)->call(request);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().reason().find("stopping"), std::string::npos) << again.status().reason();
}

TEST_F(GuardPortTest, CancelEndsTheWaitForAGuardThatDoesNotAnswer) {
  // A guard that completes the CURVE handshake and takes the request, but never replies.
  const auto guard = edge::curve_keypair();
  zmq::context_t ctx(1);
  zmq::socket_t silent(ctx, zmq::socket_type::rep);
  silent.set(zmq::sockopt::linger, 0);
  silent.set(zmq::sockopt::curve_server, 1);
  silent.set(zmq::sockopt::curve_secretkey, guard.secret_z85);
  auto bound = edge::bind(silent, "tcp://127.0.0.1:0");
  ASSERT_TRUE(bound.ok()) << bound.status().reason();
  auto port = remote_guard(client(*bound, guard.public_z85));
  ASSERT_TRUE(port.ok()) << port.status().reason();
  const Status s = call_then_cancel(**port);
  EXPECT_EQ(s.code(), Code::io);
  EXPECT_NE(s.reason().find("stopping"), std::string::npos) << s.reason();
}

}  // namespace
}  // namespace cg::node
