// gateway/store: durable state on LMDB — what must survive `kill -9` at any instant.
//
// An Env is one LMDB environment (a directory) holding named tables. All changes happen in a
// WriteTxn and become durable, all together or not at all, when commit() returns ok (LMDB
// fsyncs on commit; group commit = putting many items in one WriteTxn). A ReadTxn sees one
// consistent snapshot. Keys sort bytewise; use be64() for integer keys so they iterate in
// numeric order.
//
// Thread-safety: an Env and its Tables may be shared by threads. LMDB allows one WriteTxn at a
// time per Env (a second begin_write() blocks until the first ends); ReadTxns are independent
// (MDB_NOTLS: not tied to a thread), but one transaction must not be used by two threads at
// once. Spans returned by get()/Cursor point into the map and are valid until the transaction
// ends or the next write in it.
//
// Errors: Code::overloaded, with a reason starting "store full (disk or map size)", when the
// map is full (the store's configured size bound, raised by configuration, never silently) or
// the disk is (ENOSPC, EDQUOT, or EIO with the file system out of space); Code::io for
// anything else the OS or LMDB reports; a missing key is not an error (nullopt).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/common/status.h"

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace cg::store {

using Bytes = std::span<const std::uint8_t>;

struct Options {
  std::string path;                              // directory; created if missing
  std::size_t map_bytes = std::size_t{1} << 30;  // hard bound on the store's size
  unsigned tables_max = 32;
  unsigned readers_max = 126;
  bool read_only = false;  // for inspection tools: never creates or writes anything
};

// A named table (LMDB database handle). Cheap to copy; valid while its Env lives.
class Table final {
 public:
  Table() = default;
  unsigned handle() const { return dbi_; }

 private:
  friend class Env;
  explicit Table(unsigned dbi) : dbi_(dbi) {}
  unsigned dbi_ = 0;
};

// Iterates a table in key order within one transaction.
class Cursor final {
 public:
  ~Cursor();
  Cursor(Cursor&& other) noexcept
      : cursor_(std::exchange(other.cursor_, nullptr)), started_(other.started_) {}
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  Cursor& operator=(Cursor&&) = delete;

  // Positions at the first key >= `key` (or the first key when `key` is empty) on the first
  // call, then moves forward. nullopt at the end. Errors: io.
  Result<std::optional<std::pair<Bytes, Bytes>>> next(Bytes seek_key = {});

 private:
  friend class ReadTxn;
  friend class WriteTxn;
  explicit Cursor(MDB_cursor* c) : cursor_(c) {}
  MDB_cursor* cursor_;
  bool started_ = false;
};

class ReadTxn final {
 public:
  ~ReadTxn();
  ReadTxn(ReadTxn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  ReadTxn& operator=(ReadTxn&&) = delete;

  Result<std::optional<Bytes>> get(Table table, Bytes key) const;
  Result<Cursor> cursor(Table table) const;
  // Number of entries in the table (O(1)).
  Result<std::uint64_t> count(Table table) const;

 private:
  friend class Env;
  explicit ReadTxn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_;
};

class WriteTxn final {
 public:
  // Aborts (discards every change) unless commit() succeeded.
  ~WriteTxn();
  WriteTxn(WriteTxn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  WriteTxn(const WriteTxn&) = delete;
  WriteTxn& operator=(const WriteTxn&) = delete;
  WriteTxn& operator=(WriteTxn&&) = delete;

  Status put(Table table, Bytes key, Bytes value);
  // Inserts only when the key is absent; Code::rejected when it exists.
  Status insert(Table table, Bytes key, Bytes value);
  // Removing an absent key is not an error; returns whether it existed.
  Result<bool> erase(Table table, Bytes key);
  Result<std::optional<Bytes>> get(Table table, Bytes key) const;
  Result<Cursor> cursor(Table table) const;
  // Number of entries in the table, this transaction's changes included (O(1)).
  Result<std::uint64_t> count(Table table) const;

  // Makes every change durable atomically. After commit (ok or not) the txn is finished.
  Status commit();

 private:
  friend class Env;
  explicit WriteTxn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_;
};

class Env final {
 public:
  static Result<std::unique_ptr<Env>> open(const Options& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // Opens (creating if needed, unless read-only) a named table. Call at start-up, before
  // concurrent use. Errors: io (MDB_NOTFOUND when a read-only store lacks the table).
  Result<Table> table(std::string_view name);
  // The same, but a table that does not exist (in a read-only store) is nullopt, not an error.
  Result<std::optional<Table>> find_table(std::string_view name);

  Result<ReadTxn> begin_read() const;
  Result<WriteTxn> begin_write();

  // Bytes of the map in use (pages × page size): for metrics and the size bound.
  std::size_t used_bytes() const;
  std::size_t map_bytes() const { return map_bytes_; }

 private:
  Env(MDB_env* env, std::size_t map_bytes, bool read_only)
      : env_(env), map_bytes_(map_bytes), read_only_(read_only) {}
  MDB_env* env_;
  std::size_t map_bytes_;
  bool read_only_;
};

// The exclusive claim of one running node on its store directory, held for the node's whole
// life: a second node on the same store would judge and send every item again under other
// sequence numbers. The claim is flock(LOCK_EX | LOCK_NB) on `<store>/node.lock` (created
// 0600, O_CLOEXEC | O_NOFOLLOW), which holds the holder's pid as text; the kernel releases it
// when the process dies, even by kill -9, so a stale file never blocks a restart.
// Only running nodes take it: reviewer and inspection commands open the store next to a
// running node (LMDB is multi-process) and do not.
class NodeLock final {
 public:
  // Creates the directory (0700) if missing, then takes the lock. Errors: rejected when
  // another process holds it ("store DIR is in use by another node (pid N)"); io otherwise.
  static Result<std::unique_ptr<NodeLock>> acquire(const std::string& store_dir);
  ~NodeLock();  // releases the lock (closes the file); the file stays
  NodeLock(const NodeLock&) = delete;
  NodeLock& operator=(const NodeLock&) = delete;

 private:
  explicit NodeLock(int fd) : fd_(fd) {}
  int fd_;
};

// Big-endian encoding of an integer key, so numeric order equals byte order.
inline std::array<std::uint8_t, 8> be64(std::uint64_t v) {
  std::array<std::uint8_t, 8> out{};
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
  return out;
}
// The Status the store reports for LMDB or errno code `rc` (non-zero) during `what`: a full map
// or disk (MDB_MAP_FULL, ENOSPC, EDQUOT) is overloaded, "store full (disk or map size): ...";
// the rest is io. (An EIO is also taken for a full disk when the store's file system is out of
// space; that check needs the store and is made where a store error arises.)
Status error_status(std::string_view what, int rc);

// Inverse of be64; nullopt unless exactly 8 bytes.
std::optional<std::uint64_t> from_be64(Bytes bytes);

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace cg::store
