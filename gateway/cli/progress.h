// gateway/cli: a one-line progress indicator on stderr for long operations (`cellgate send` of
// many items, `rules impact` over a corpus). It draws only when stderr is a terminal and the
// command is not writing JSON for a script; otherwise every call is a no-op, so output that
// is piped or parsed never contains it. At most ten redraws a second; finish() erases it.
//
// Not thread-safe: one owner.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace cg::cli {

class Progress final {
 public:
  // `total` 0: unknown (only the count is shown).
  Progress(std::string label, std::uint64_t total, bool json)
      : label_(std::move(label)), total_(total), enabled_(!json && ::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void set_total(std::uint64_t total) { total_ = total; }
  // `done` so far; `note` is shown after the count (e.g. "3 rejected").
  void update(std::uint64_t done, const std::string& note = {}) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done != total_) return;
    last_ = now;
    drawn_ = true;
    if (total_ > 0) {
      std::fprintf(stderr, "\r\033[K%s %llu/%llu (%llu%%)%s%s", label_.c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                   static_cast<unsigned long long>(done * 100 / total_), note.empty() ? "" : ", ",
                   note.c_str());
    } else {
      std::fprintf(stderr, "\r\033[K%s %llu%s%s", label_.c_str(),
                   static_cast<unsigned long long>(done), note.empty() ? "" : ", ", note.c_str());
    }
    std::fflush(stderr);
  }
  // Erases the line (before the command prints its summary).
  void finish() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace cg::cli
