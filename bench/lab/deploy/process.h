// bench/lab/deploy: a supervisor for node processes (`cellgate run --config FILE`) and the small
// probes a supervisor needs: wait for a port, scrape a node's metrics, read one sample.
//
// A NodeProcess runs in its own process group with stdout and stderr appended to a log file,
// and is killed by the kernel (PR_SET_PDEATHSIG) when the thread that started it dies, so a
// crashed test never leaves nodes behind. Signals go to the whole group, so helpers a process
// starts are stopped with it. Not thread-safe: one thread owns a NodeProcess, and it should be
// the thread that lives longest (the death signal follows the starting thread, not the process).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"

namespace cg::deploy {

struct ProcessUsage {
  double cpu_seconds = 0;         // user + system
  std::uint64_t peak_rss_kb = 0;  // VmHWM: the peak of everything resident, store pages too
  std::uint64_t rss_anon_kb = 0;  // RssAnon now: heap and stacks, not the mapped store
  std::uint64_t rss_file_kb = 0;  // RssFile now: mapped files (the LMDB map, the binary)
  // Bytes this process caused to be written to storage (/proc/PID/io write_bytes); 0 where
  // the kernel does not account it (tmpfs) or does not let this process read it.
  std::uint64_t write_bytes = 0;
};

class NodeProcess final {
 public:
  // Starts `binary run --config config_file`. See start_argv.
  static Result<std::unique_ptr<NodeProcess>> start(const std::string& binary,
                                                    const std::string& config_file,
                                                    const std::string& log_file);
  // Starts argv[0] (a path, not searched in PATH) with `argv`, stdin from /dev/null, stdout and
  // stderr appended to `log_file` (created 0600), in a new process group. Errors: malformed
  // (empty argv), io (the log cannot be opened, fork fails, or exec fails: the reason names
  // the binary and errno).
  static Result<std::unique_ptr<NodeProcess>> start_argv(std::vector<std::string> argv,
                                                         const std::string& log_file);
  ~NodeProcess();  // terminate() if still running
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // SIGKILL to the process group, then reaps the process.
  void kill9();
  // SIGTERM to the process group, waits up to `timeout_ms` for the process to exit, then
  // SIGKILL. Returns the exit status, or -signal when a signal ended it. Called again after the
  // process has ended it returns the same value.
  int terminate(int timeout_ms = 10'000);
  // Whether the process is still running (reaps it when it has exited).
  bool running();
  pid_t pid() const { return pid_; }
  // The exit status (or -signal) once the process has been reaped; nullopt while it runs.
  std::optional<int> exit_status() const { return exit_status_; }
  // CPU seconds and peak RSS from /proc/<pid>/stat and /proc/<pid>/status while running.
  // Errors: io (not running, /proc unreadable), malformed (unexpected /proc contents).
  Result<ProcessUsage> usage() const;
  // Starts the same argv again after the process ended (kill9, terminate or on its own).
  // Errors: rejected while it still runs; as start_argv.
  Status restart();

 private:
  NodeProcess(std::vector<std::string> argv, std::string log_file)
      : argv_(std::move(argv)), log_file_(std::move(log_file)) {}
  Status spawn();
  // Reaps the process if it has exited (killing what is left of its group first).
  bool reap(bool block);

  std::vector<std::string> argv_;
  std::string log_file_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;  // set once reaped
};

// Waits until `host:port` (IPv4, e.g. "127.0.0.1:9101") accepts a TCP connection, or
// `timeout_ms` passes. Errors: malformed (not host:port), io (timeout; the reason says so).
Status wait_for_tcp(const std::string& host_port, int timeout_ms);

// GET http://host:port/metrics within `timeout_ms`; returns the body (at most
// scrape_bytes_max). Errors: malformed (bad address, non-200 answer, not HTTP, too large), io.
inline constexpr std::size_t scrape_bytes_max = 8u << 20;
Result<std::string> scrape(const std::string& host_port, int timeout_ms = 2000);

// The value of one sample in a Prometheus text exposition, matched exactly on name and labels
// as rendered, e.g. metric(text, "cg_gateway_items_total{decision=\"released\"}"). nullopt when
// absent or when its value does not parse.
std::optional<double> metric(std::string_view exposition, std::string_view sample);

}  // namespace cg::deploy
