// gateway/roles/guard: the release guard role of `cellgate run` (issue 17).
//
// A process of its own beside each gateway, under its own system user (docs/systemd/
// cellgate-guard@.service), and the only one that can read the gateway's signing key. It
// answers one filter — the gateway whose CURVE key its config names — on a CurveZMQ REP socket
// on loopback, through gateway/signatory: it verifies the rules bundles the filter offers,
// checks every release on its own (gateway/guard, or the reviewers' approvals), and only then
// seals, signs and answers with the envelopes; it signs stream heads up to the last seq it
// signed. Its store keeps its trust-root pin, the bundles it verified, the last seq per
// destination and its answers per hand-off id (so kill -9 of either process signs nothing
// twice), and its audit chain (the trust roots it pinned).
//
// Thread-safety: start/stop from one controlling thread; counters from any.
#pragma once

#include <memory>
#include <string>

#include "gateway/common/clock.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/signatory/signatory.h"

namespace cg::node {

class GuardNode final {
 public:
  // Loads the signing key and trust root, opens the store, binds the listener. Errors:
  // malformed (config, files), unauthenticated (the key is not the gateway's in the trust
  // root), io.
  static Result<std::unique_ptr<GuardNode>> start(const config::NodeConfig& config,
                                                  const Clock& clock);
  ~GuardNode();
  GuardNode(const GuardNode&) = delete;
  GuardNode& operator=(const GuardNode&) = delete;

  void stop();                          // idempotent
  const std::string& endpoint() const;  // the bound listener
  const signatory::SignatoryCounters& counters() const;
  std::uint16_t metrics_port() const;

 private:
  struct Impl;
  explicit GuardNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cg::node
