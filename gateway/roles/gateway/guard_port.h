// gateway/roles/gateway: how the filter reaches its release guard (issue 17).
//
// One request (schemas/guard.capnp GuardRequest bytes) in, one reply out, either to the guard
// process over CurveZMQ (RemoteGuard: the deployment, [guard] in the config) or to a
// signatory in this process on this gateway's store (LocalGuard: a gateway without [guard],
// for a single-host lab; the filter then holds the key, which docs/SECURITY.md says is not a
// deployment). The pipeline cannot tell them apart: both speak the same bytes.
//
// Thread-safety: one thread (the pipeline) calls at a time; cancel() may come from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/signatory/signatory.h"

namespace cg::node {

class GuardPort {
 public:
  virtual ~GuardPort() = default;
  // The reply's bytes (not yet decoded). Errors: io (no answer within the timeout: the
  // request may or may not have been handled; asking again under the same hand-off ids is
  // safe), unauthenticated (the guard refused this filter's CURVE key, or its key is wrong).
  virtual Result<std::vector<std::uint8_t>> call(std::span<const std::uint8_t> request) = 0;
  // The node is stopping: a call waiting for the guard returns io at once (within 50 ms), and
  // so does every later one. Nothing it waited for is lost: what was handed off stays in the
  // store and is asked for again at the next start.
  virtual void cancel() {}
};

// The signatory in this process (it must outlive the port).
std::unique_ptr<GuardPort> local_guard(signatory::Signatory& signatory);
// The guard process named by `guard` (connects on the first call, and again after a timeout).
Result<std::unique_ptr<GuardPort>> remote_guard(const config::GuardClient& guard);

}  // namespace cg::node
