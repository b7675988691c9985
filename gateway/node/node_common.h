// gateway/node: what the three node roles share — reading their key material and link
// settings from the config, and collecting what a link receiver hands up for the node's
// thread to process after each poll.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/secret.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/link/link.h"

namespace cg::node {

// The first line of a small file (a CURVE secret key in Z85), trailing blanks removed.
Result<std::string> read_first_line(const std::string& path);

// The key files' passphrase when [keys] names a passphrase_file; none means the key files must
// be stored unencrypted (they say so themselves, and loading checks it).
Result<std::optional<crypto::Secret>> passphrase(const config::Keys& keys);

// The link settings both ends of a configured link must agree on.
link::Settings link_settings(const config::LinkCommon& link);

// Collects envelopes and control records during one poll_once(); the node processes them
// afterwards on the same thread. Losses are added to `lost`; alerts are logged.
struct LinkInbox final : link::Handler {
  LinkInbox(std::string name, std::atomic<std::uint64_t>* lost_counter)
      : node(std::move(name)), lost(lost_counter) {}
  void on_envelope(const link::Delivered& d) override;
  void on_loss(const link::Loss& l) override;
  void on_control(std::uint64_t id, std::span<const std::uint8_t> payload) override;
  void on_alert(const link::Alert& a) override;

  std::string node;
  std::atomic<std::uint64_t>* lost;
  std::vector<std::vector<std::uint8_t>> envelopes, controls;
};

}  // namespace cg::node
