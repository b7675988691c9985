// Fuzz target: the link's frame parser and the receiver behind it (gateway/link).
//
// Input: records [mode:u8][len:u16][len bytes]. Each record is one datagram. When mode bit 0 is
// set, its last 16 bytes are replaced by a valid tag under the fuzzing key, so the fuzzer
// explores what lies behind the MAC (header checks, heartbeats, block entries, reassembly,
// segments); otherwise the MAC check itself is exercised. Bit 1 advances the clock 300 ms
// first, so blocks and partial envelopes time out.
// Checks: a parsed frame re-encodes to exactly the datagram (round trip), and the receiver
// never delivers an envelope longer than the limit nor counts a datagram twice.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "gateway/link/frame.h"
#include "gateway/link/link.h"

namespace {

struct NullHandler final : cg::link::Handler {
  void on_envelope(const cg::link::Delivered& d) override {
    if (d.bytes.empty() || d.bytes.size() > cg::link::limits::envelope_bytes_max) std::abort();
  }
  void on_loss(const cg::link::Loss&) override {}
  void on_control(std::uint64_t, std::span<const std::uint8_t>) override {}
  void on_alert(const cg::link::Alert&) override {}
};

const cg::crypto::Secret& key() {
  static const cg::crypto::Secret k = [] {
    std::vector<std::uint8_t> bytes(cg::link::link_key_bytes);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i);
    return cg::crypto::Secret::copy_of(bytes);
  }();
  return k;
}

cg::link::ReceiverOptions options() {
  cg::link::ReceiverOptions o;
  o.settings.link_id = 1;
  o.settings.data_fragments = 16;
  o.settings.parity_fragments = 4;
  o.blocks_in_flight_max = 8;
  o.window_blocks = 256;
  o.partial_bytes_max = cg::link::limits::envelope_bytes_max;
  return o;
}

void check_round_trip(std::span<const std::uint8_t> datagram) {
  auto frame = cg::link::parse_frame(datagram, key(), cg::link::limits::datagram_bytes_max);
  if (!frame.ok()) return;
  std::vector<std::uint8_t> again(datagram.size());
  if (cg::link::write_frame(frame->header, frame->payload, key(), again) != datagram.size()) {
    std::abort();
  }
  if (!std::equal(again.begin(), again.end(), datagram.begin())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cg::FakeClock clock;
  NullHandler handler;
  cg::link::Receiver receiver(options(), key(), clock, handler);
  std::size_t pos = 0, datagrams = 0;
  std::vector<std::uint8_t> datagram;
  while (pos + 3 <= size) {
    const std::uint8_t mode = data[pos];
    const std::size_t len =
        std::min<std::size_t>(data[pos + 1] | (data[pos + 2] << 8), size - pos - 3);
    datagram.assign(data + pos + 3, data + pos + 3 + len);
    pos += 3 + len;
    if ((mode & 1) && len >= cg::link::frame_tag_bytes) {
      const std::size_t body = len - cg::link::frame_tag_bytes;
      crypto_generichash(datagram.data() + body, cg::link::frame_tag_bytes, datagram.data(), body,
                         key().bytes().data(), key().size());
    }
    if (mode & 2) clock.advance_ns(300 * cg::ns_per_ms);
    check_round_trip(datagram);
    receiver.on_datagram(datagram);
    receiver.tick();
    ++datagrams;
  }
  if (receiver.counters().datagrams_received.load() != datagrams) std::abort();
  if (receiver.blocks_in_flight() > 8) std::abort();
  return 0;
}
