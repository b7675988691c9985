// gateway/link: the one-way link. Envelopes (opaque byte strings, each with a caller-supplied
// u64 sequence number and a FLASH flag) cross a data-diode boundary over UDP. Nothing ever
// flows back: the receiver never sends a datagram, so there are no acknowledgements and no
// retransmissions. Instead:
//   - envelopes are packed into blocks of consecutive sequence numbers; each block is cut into
//     k data + m parity fragments (Reed–Solomon), any k of which restore it;
//   - fragments of several blocks are sent round-robin (interleaving), so a burst of lost
//     datagrams costs each block only a few fragments;
//   - every frame carries a keyed BLAKE2b tag under the link key, checked before anything else;
//   - the sender paces to a configured rate (token bucket) and repeats heartbeats (newest
//     block, settings, recent blocks' sequence ranges) and caller-supplied control records;
//   - the receiver reassembles from any k of k + m fragments with bounded memory and reports
//     every block it gives up on with the exact range of sequence numbers lost.
//
// The logic (Sender, Receiver) is pure: no sockets, time from a Clock, so tests run it over
// the seeded fault simulator (tests/sim/link_sim.h). UdpSender / UdpReceiver add the sockets.
//
// Thread-safety: Sender and Receiver are single-threaded. UdpSender's submit functions may be
// called from any thread (one mutex); its I/O runs on its own thread. UdpReceiver calls the
// Handler on the thread that runs it. Counters are atomics, readable from any thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "crypto/secret.h"
#include "gateway/common/clock.h"
#include "gateway/common/mutex.h"
#include "gateway/common/status.h"
#include "gateway/link/fec.h"
#include "gateway/link/frame.h"
#include "gateway/link/limits.h"

namespace cg::link {

enum class Precedence : std::uint8_t { routine = 0, flash = 1 };

struct SenderOptions {
  Settings settings;
  std::uint64_t pace_bytes_per_s = 10'000'000;  // UDP payload bytes per second
  // Token bucket depth; 0 = max(2 ms at the pace rate, 64 datagrams).
  std::uint64_t pace_burst_bytes = 0;
  // Blocks sent round-robin as a group; a burst of B lost datagrams costs each block of a
  // group at most ceil(B / depth) fragments.
  std::size_t interleave_depth = 4;
  std::size_t staging_bytes_max = 4u << 20;
  std::size_t staged_envelopes_max = 65536;
  std::int64_t heartbeat_interval_ns = 100 * ns_per_ms;
  // Also send a heartbeat after this many blocks, so its history covers every block.
  std::size_t heartbeat_every_blocks = 16;
  std::int64_t control_repeat_interval_ns = 20 * ns_per_ms;
  // 0 = derive from the wall clock at construction (increases across restarts).
  std::uint64_t session = 0;
};
// Errors: malformed, naming the option out of range.
Status validate(const SenderOptions& options);

struct ReceiverOptions {
  Settings settings;
  // Give up on a block this long after learning it exists. Must exceed the time the sender
  // needs to send interleave_depth blocks at its pace rate, plus the path's delay spread.
  std::int64_t block_timeout_ns = 1000 * ns_per_ms;
  std::size_t window_blocks = 8192;
  std::size_t blocks_in_flight_max = 64;
  std::size_t partial_envelopes_max = 16;
  std::size_t partial_bytes_max = 8u << 20;
  // Sessions at or below this are refused (a node may persist the last session it saw).
  std::uint64_t session_floor = 0;
};
Status validate(const ReceiverOptions& options);

// Counters: monotonically increasing, exported as-is (counter_list).
struct SenderCounters {
  std::atomic<std::uint64_t> envelopes_submitted{0};
  std::atomic<std::uint64_t> envelope_bytes_submitted{0};
  std::atomic<std::uint64_t> submits_overloaded{0};
  std::atomic<std::uint64_t> blocks_sealed{0};
  std::atomic<std::uint64_t> flash_blocks_sealed{0};
  std::atomic<std::uint64_t> data_frames_sent{0};
  std::atomic<std::uint64_t> parity_frames_sent{0};
  std::atomic<std::uint64_t> heartbeats_sent{0};
  std::atomic<std::uint64_t> control_frames_sent{0};
  std::atomic<std::uint64_t> frames_sent{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> send_errors{0};  // sendmmsg failures (UdpSender)
};

struct ReceiverCounters {
  std::atomic<std::uint64_t> datagrams_received{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> frames_truncated{0};  // shorter than a frame, or cut by the kernel
  std::atomic<std::uint64_t> frames_oversized{0};
  std::atomic<std::uint64_t> frames_bad_mac{0};
  std::atomic<std::uint64_t> frames_malformed{0};  // authentic but structurally wrong
  std::atomic<std::uint64_t> frames_wrong_link{0};
  std::atomic<std::uint64_t> frames_settings_mismatch{0};
  std::atomic<std::uint64_t> frames_stale_session{0};
  std::atomic<std::uint64_t> frames_stale_block{0};   // block already decided and forgotten
  std::atomic<std::uint64_t> frames_duplicate{0};     // fragment already held
  std::atomic<std::uint64_t> frames_redundant{0};     // block already decoded or given up
  std::atomic<std::uint64_t> frames_inconsistent{0};  // disagrees with the block's other frames
  std::atomic<std::uint64_t> fragments_accepted{0};
  std::atomic<std::uint64_t> heartbeats_received{0};
  std::atomic<std::uint64_t> control_records_delivered{0};
  std::atomic<std::uint64_t> control_repeats_ignored{0};
  std::atomic<std::uint64_t> blocks_decoded{0};
  std::atomic<std::uint64_t> blocks_recovered_fec{0};  // needed parity to decode
  std::atomic<std::uint64_t> blocks_malformed{0};      // decoded but entries did not parse
  std::atomic<std::uint64_t> blocks_lost{0};
  std::atomic<std::uint64_t> blocks_lost_range_unknown{0};
  std::atomic<std::uint64_t> envelopes_delivered{0};
  std::atomic<std::uint64_t> envelope_bytes_delivered{0};
  std::atomic<std::uint64_t> envelopes_lost{0};     // sum of the counts of loss reports
  std::atomic<std::uint64_t> segments_orphaned{0};  // parts of envelopes already reported lost
  std::atomic<std::uint64_t> sessions_started{0};
};

// What the receiver hands up. Views are valid only during the call.
struct Delivered {
  std::uint64_t seq = 0;
  bool flash = false;
  std::span<const std::uint8_t> bytes;
};

enum class LossReason : std::uint8_t {
  timeout,        // fewer than k fragments arrived within block_timeout_ns
  memory,         // evicted to keep reassembly memory bounded
  window,         // the sender ran further ahead than window_blocks
  session_ended,  // the sender restarted (a newer session) before the block completed
  malformed,      // the block decoded but its entries did not parse
  incomplete,     // an envelope spanning blocks never got all its segments
};
std::string_view loss_reason_name(LossReason reason);

// Envelopes with sequence numbers [first_seq, first_seq + count) are lost; each sequence
// number is reported at most once and never also delivered. `block` is 0 for `incomplete`.
// When no fragment and no heartbeat named the block's range, range_known is false.
struct Loss {
  std::uint64_t block = 0;
  bool range_known = true;
  std::uint64_t first_seq = 0;
  std::uint32_t count = 0;
  LossReason reason = LossReason::timeout;
};

enum class AlertKind : std::uint8_t {
  settings_mismatch,  // the sender's settings differ from ours: its frames are dropped
  session_started,    // first frame of a (newer) sender session
  stale_session,      // frames of an older session refused (a replay, or a sender clock set back)
  rcvbuf_capped,      // the kernel gave a smaller SO_RCVBUF than asked for
};
struct Alert {
  AlertKind kind;
  std::string text;  // says plainly what happened and what differs
};

// Receives what the link delivers. Implementations must not call back into the Receiver.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on_envelope(const Delivered& envelope) = 0;
  virtual void on_loss(const Loss& loss) = 0;
  virtual void on_control(std::uint64_t id, std::span<const std::uint8_t> payload) = 0;
  virtual void on_alert(const Alert& alert) = 0;
  // A frame refused before it could be used (it is also counted): `reason` is a fixed key
  // ("bad_mac", "malformed"), `what` says more for people. For logging; the default ignores it.
  virtual void on_refused(std::string_view /*reason*/, std::string_view /*what*/) {}
};

// --- Sender logic ---------------------------------------------------------------------------
class Sender final {
 public:
  // Keeps references to `key` (link_key_bytes) and `clock`, which must outlive the sender.
  // `options` must have passed validate() (asserts).
  Sender(const SenderOptions& options, const crypto::Secret& key, const Clock& clock);

  // Queues an envelope. Envelopes with consecutive sequence numbers share blocks; a FLASH
  // envelope goes into blocks of its own, sent before any routine block. Errors: malformed
  // (empty or larger than limits::envelope_bytes_max), overloaded (staging full: retry later).
  Status submit(std::uint64_t seq, std::span<const std::uint8_t> envelope,
                Precedence precedence = Precedence::routine);

  // Queues a control record, sent `repeats` times control_repeat_interval_ns apart, and
  // returns its id (delivered once by Handler::on_control). Errors: malformed (empty, larger
  // than one fragment, repeats outside [1, 1000]), overloaded (too many records pending).
  Result<std::uint64_t> submit_control(std::span<const std::uint8_t> payload,
                                       std::uint32_t repeats);

  // Writes up to out.size() datagrams that pacing allows now into `out` (views into the
  // sender's buffers, valid until the next call) and returns their number.
  std::size_t produce(std::span<std::span<const std::uint8_t>> out);

  // Monotonic time at which produce() may have something to send (heartbeats included).
  std::int64_t next_due_ns();
  // True when no envelope or control record is waiting or partly sent.
  bool idle() const;
  // The lowest sequence number of an envelope not yet entirely written by produce(), or
  // UINT64_MAX when none is waiting. Assumes submit() is called with increasing sequence
  // numbers within each precedence (what the nodes do).
  std::uint64_t unsent_floor() const;
  // Envelopes submitted and not yet entirely cut into blocks (the staging queue, bounded by
  // staging_bytes_max), and their bytes not yet cut. Blocks being sent (at most
  // interleave_depth per precedence) are not counted.
  struct Queued {
    std::uint64_t envelopes = 0, bytes = 0;
  };
  Queued queued() const;

  std::uint64_t session() const { return session_; }
  const SenderCounters& counters() const { return counters_; }
  SenderCounters& counters() { return counters_; }

 private:
  struct Staged {
    std::uint64_t seq;
    std::uint8_t flags;
    std::size_t offset;  // in Stage::buffer
    std::uint32_t len;
    std::uint32_t consumed;
  };
  struct Stage {
    std::unique_ptr<std::uint8_t[]> buffer;  // 2 × staging_bytes_max + one envelope
    std::size_t head = 0;                    // bytes before head are consumed
    std::deque<Staged> items;
    std::size_t bytes = 0;  // unconsumed envelope bytes
  };
  struct Block {
    std::uint64_t number = 0, first_seq = 0;
    std::uint32_t count = 0, block_len = 0;
    std::uint8_t k = 0, m = 0, flags = 0, next_index = 0;
    std::uint16_t frag_len = 0;
    std::vector<std::uint8_t> fragments;
  };
  struct Control {
    std::uint64_t id;
    std::vector<std::uint8_t> payload;
    std::uint32_t repeats_left;
    std::uint8_t repetition;
    std::int64_t due_ns;
  };

  enum class Next : std::uint8_t { none, heartbeat, control, flash, bulk };

  bool stage_push(Stage& stage, std::uint64_t seq, std::uint8_t flags,
                  std::span<const std::uint8_t> bytes);
  static std::size_t packed_bytes(const Stage& stage);
  // Packs the front of `stage` into one block of at most `capacity` payload bytes.
  Block pack(Stage& stage, std::size_t capacity);
  // Pads, encodes and numbers `block`, and records its range for heartbeats.
  void seal(Block& block);
  // Forms the next group of blocks from `stage` into `group`.
  void form_group(Stage& stage, std::vector<Block>& group);
  Next pick(std::int64_t now_ns, std::size_t& frame_bytes);
  std::size_t write_fragment(std::vector<Block>& group, std::size_t& rr,
                             std::span<std::uint8_t> out);
  std::size_t write_heartbeat(std::int64_t now_ns, std::span<std::uint8_t> out);
  std::size_t write_control(std::int64_t now_ns, std::span<std::uint8_t> out);
  std::deque<Control>::iterator due_control(std::int64_t now_ns);
  void refill_tokens(std::int64_t now_ns);

  const SenderOptions options_;
  const crypto::Secret& key_;
  const Clock& clock_;
  const std::uint32_t fp_;
  const std::uint64_t session_;
  Fec fec_;
  Stage bulk_, flash_;
  std::vector<Block> active_, flash_active_;  // the groups being sent
  std::size_t rr_ = 0, flash_rr_ = 0;
  std::deque<Control> controls_;
  std::uint64_t next_block_ = 1, next_control_ = 1;
  // Ranges of the most recently sealed blocks (ring indexed by block number), for heartbeats.
  std::vector<BlockRange> history_;
  std::size_t blocks_since_heartbeat_ = 0;
  std::int64_t heartbeat_due_ns_ = 0;
  double tokens_ = 0;
  double burst_bytes_ = 0;
  std::int64_t tokens_at_ns_ = 0;
  std::vector<std::vector<std::uint8_t>> spare_buffers_;
  std::vector<std::uint8_t> datagrams_;  // io_batch_max × datagram_bytes
  std::vector<std::uint8_t> scratch_;
  Heartbeat heartbeat_;
  SenderCounters counters_;
};

// --- Receiver logic ---------------------------------------------------------------------------
class Receiver final {
 public:
  // Keeps references to `key`, `clock` and `handler`, which must outlive the receiver.
  // `options` must have passed validate() (asserts).
  Receiver(const ReceiverOptions& options, const crypto::Secret& key, const Clock& clock,
           Handler& handler);

  // Handles one datagram: checks size and MAC first, then the header, then reassembles.
  // Bad datagrams are dropped and counted; nothing here fails.
  void on_datagram(std::span<const std::uint8_t> datagram);
  // Gives up on blocks and partial envelopes whose time has run out. Call regularly (the
  // UdpReceiver calls it after every batch and at least every 10 ms).
  void tick();

  std::uint64_t session() const { return session_; }
  // Blocks currently holding fragment buffers (bounded by blocks_in_flight_max).
  std::size_t blocks_in_flight() const { return buffers_in_use_; }
  const ReceiverCounters& counters() const { return counters_; }
  ReceiverCounters& counters() { return counters_; }

 private:
  struct Slot {
    std::int64_t since_ns = 0;
    bool done = false;
    bool range_known = false;
    std::uint64_t first_seq = 0;
    std::uint32_t count = 0;
    std::uint32_t block_len = 0;
    std::uint8_t k = 0, m = 0, flags = 0;
    std::uint16_t frag_len = 0;
    std::uint16_t received = 0;
    std::vector<std::uint8_t> present;    // one flag per fragment
    std::vector<std::uint8_t> fragments;  // empty when not holding a buffer
  };
  struct Partial {
    std::uint32_t total_len = 0;
    std::uint32_t received = 0;
    bool flash = false;
    std::int64_t since_ns = 0;
    std::vector<std::uint8_t> bytes;
  };

  void on_data(const Frame& frame);
  void on_heartbeat(const Frame& frame);
  void on_control(const Frame& frame);
  bool check_settings(const Frame& frame);
  bool check_session(std::uint64_t session);
  void start_session(std::uint64_t session);
  // Makes sure blocks up to `block` are tracked; false if `block` is already forgotten.
  bool track_through(std::uint64_t block);
  void decode(std::uint64_t block, Slot& slot);
  void deliver_entries(std::uint64_t block, Slot& slot, std::span<const std::uint8_t> payload);
  void on_segment(std::uint64_t seq, const Entry& entry);
  void give_up(std::uint64_t block, Slot& slot, LossReason reason);
  void report(std::uint64_t block, bool known, std::uint64_t first, std::uint64_t end,
              LossReason reason);
  void on_entry(std::uint64_t seq, const Entry& entry);
  void joined(std::uint64_t block);
  void evict_partial();
  bool reported(std::uint64_t seq) const;
  void remember_reported(std::uint64_t seq);
  void release(Slot& slot);
  void advance_floor();
  // Makes room for one more block holding fragments, evicting the oldest if needed.
  void acquire_buffer(std::uint64_t block);

  const ReceiverOptions options_;
  const crypto::Secret& key_;
  const Clock& clock_;
  Handler& handler_;
  const std::uint32_t fp_;
  Fec fec_;
  std::uint64_t session_ = 0;
  std::uint64_t floor_ = 0;    // every block ≤ floor_ is decided
  std::uint64_t highest_ = 0;  // every block in (floor_, highest_] is in slots_
  std::map<std::uint64_t, Slot> slots_;
  std::size_t buffers_in_use_ = 0;
  std::vector<std::vector<std::uint8_t>> spare_buffers_;
  std::map<std::uint64_t, Partial> partials_;
  std::size_t partial_bytes_ = 0;
  std::vector<std::uint64_t> reported_ring_;
  std::size_t reported_next_ = 0;
  std::deque<std::uint64_t> control_ids_;
  std::uint64_t control_id_max_ = 0;
  bool joined_ = false;
  std::uint32_t mismatch_alerted_fp_ = 0, mismatch_detailed_fp_ = 0;
  std::uint64_t stale_alerted_session_ = 0;
  ReceiverCounters counters_;
};

// --- Sockets ----------------------------------------------------------------------------------

// Sends a Sender's datagrams with sendmmsg from its own thread, paced by the Sender.
class UdpSender final {
 public:
  // `destination` is "host:port" (IPv4 literal). Keeps references to `key` and `clock`.
  // Errors: malformed (options, address), io (socket).
  static Result<std::unique_ptr<UdpSender>> open(const SenderOptions& options,
                                                 const std::string& destination,
                                                 const crypto::Secret& key, const Clock& clock);
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  // Thread-safe versions of Sender::submit / submit_control.
  Status submit(std::uint64_t seq, std::span<const std::uint8_t> envelope,
                Precedence precedence = Precedence::routine);
  Result<std::uint64_t> submit_control(std::span<const std::uint8_t> payload,
                                       std::uint32_t repeats);
  // True when everything submitted has been handed to the kernel.
  bool idle();
  // The lowest sequence number submitted but not yet handed to the kernel (UINT64_MAX: none):
  // what a node re-sends after a crash starts there. Exact, not timed: it counts datagrams
  // produced but not yet passed to sendmmsg as unsent.
  std::uint64_t unsent_floor();
  // Sender::queued(), under the sender's lock (for a metrics scrape, not a hot path).
  Sender::Queued queued();
  std::uint64_t session();
  const SenderCounters& counters();
  // The sending socket (tests check that nothing ever arrives on it).
  int fd() const { return fd_; }
  // Stops the thread (what was not sent yet is dropped). Idempotent.
  void stop();

 private:
  UdpSender(const SenderOptions& options, const crypto::Secret& key, const Clock& clock, int fd);
  void loop();

  const Clock& clock_;
  const int fd_;
  sockaddr_in destination_{};
  cg::Mutex mu_;
  std::condition_variable_any wake_;
  Sender sender_ CG_GUARDED_BY(mu_);
  bool stopping_ CG_GUARDED_BY(mu_) = false;
  // unsent_floor() of the batch being passed to the kernel outside the lock.
  std::uint64_t in_transit_floor_ CG_GUARDED_BY(mu_) = UINT64_MAX;
  bool in_transit_ CG_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Reads datagrams with recvmmsg into a Receiver. Never sends: the socket is only bound.
// Whether `host_port` ("127.0.0.1:7101") is an address the UDP link can use, parsed exactly as
// UdpSender::open and UdpReceiver::open parse it (numeric IPv4 and port; no name lookup).
// Errors: malformed ("not an IPv4 address: localhost", "bad port: x").
Status check_address(const std::string& host_port);

class UdpReceiver final {
 public:
  // `listen` is "host:port" (IPv4 literal; port 0 = ephemeral). Asks for `rcvbuf_bytes` of
  // SO_RCVBUF (SO_RCVBUFFORCE when privileged) and raises an rcvbuf_capped alert through the
  // handler when the kernel gives less. Keeps references to `key`, `clock` and `handler`.
  static Result<std::unique_ptr<UdpReceiver>> open(const ReceiverOptions& options,
                                                   const std::string& listen,
                                                   std::size_t rcvbuf_bytes,
                                                   const crypto::Secret& key, const Clock& clock,
                                                   Handler& handler);
  ~UdpReceiver();
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  // Waits up to `timeout_ms` for datagrams, handles every batch available, then ticks.
  // Runs the handler on the calling thread. Errors: io.
  Status poll_once(int timeout_ms);
  std::uint16_t port() const { return port_; }
  int fd() const { return fd_; }
  std::size_t rcvbuf_granted_bytes() const { return rcvbuf_granted_; }
  Receiver& receiver() { return receiver_; }

 private:
  UdpReceiver(const ReceiverOptions& options, const crypto::Secret& key, const Clock& clock,
              Handler& handler, int fd);
  const int fd_;
  std::uint16_t port_ = 0;
  std::size_t rcvbuf_granted_ = 0;
  Receiver receiver_;
  std::vector<std::uint8_t> buffers_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
};

// One counter of a link end, named and explained for whoever exports it (a node registers
// each as the Prometheus counter cellgate_link_<name>_total with a label link="<link>").
// `value` points into the counters it was listed from, which must outlive its use.
struct CounterInfo {
  std::string_view name;  // e.g. "frames_bad_mac"
  std::string_view help;
  const std::atomic<std::uint64_t>* value;
};
// The counters of a sender and/or a receiver (either may be null), sender's first, each in a
// fixed order.
std::vector<CounterInfo> counter_list(const SenderCounters* sender,
                                      const ReceiverCounters* receiver);

}  // namespace cg::link
