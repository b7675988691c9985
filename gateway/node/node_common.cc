#include "gateway/node/node_common.h"

#include <cstdio>
#include <fstream>

#include "crypto/keys.h"

namespace cg::node {

Result<std::string> read_first_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error(path + ": cannot read");
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

Result<std::optional<crypto::Secret>> passphrase(const config::Keys& keys) {
  if (keys.passphrase_file.empty()) return std::optional<crypto::Secret>();
  CG_ASSIGN_OR_RETURN(auto p, crypto::read_passphrase_file(keys.passphrase_file));
  return std::optional<crypto::Secret>(std::move(p));
}

link::Settings link_settings(const config::LinkCommon& l) {
  link::Settings s;
  s.link_id = l.link_id;
  s.data_fragments = static_cast<std::uint8_t>(l.data_fragments);
  s.parity_fragments = static_cast<std::uint8_t>(l.parity_fragments);
  s.datagram_bytes = static_cast<std::uint16_t>(l.datagram_bytes);
  return s;
}

void LinkInbox::on_envelope(const link::Delivered& d) {
  envelopes.emplace_back(d.bytes.begin(), d.bytes.end());
}
void LinkInbox::on_loss(const link::Loss& l) { lost->fetch_add(l.count); }
void LinkInbox::on_control(std::uint64_t, std::span<const std::uint8_t> p) {
  controls.emplace_back(p.begin(), p.end());
}
void LinkInbox::on_alert(const link::Alert& a) {
  std::fprintf(stderr, "[%s] link alert: %s\n", node.c_str(), a.text.c_str());
}

}  // namespace cg::node
