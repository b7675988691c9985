#include "gateway/store/store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "gateway/common/mutex.h"

namespace cg::store {
namespace {

MDB_val val(Bytes b) {
  return MDB_val{b.size(), const_cast<std::uint8_t*>(b.data())};  // LMDB does not write keys
}
Bytes bytes(const MDB_val& v) { return {static_cast<const std::uint8_t*>(v.mv_data), v.mv_size}; }

// Below this much free space on the store's file system, an I/O error is taken for a full
// disk (a file system that ran out of blocks during a delayed write reports EIO, not ENOSPC).
constexpr unsigned long long disk_nearly_full_bytes = 1u << 20;

bool disk_nearly_full(MDB_env* env) {
  const char* path = nullptr;
  if (env == nullptr || mdb_env_get_path(env, &path) != 0 || path == nullptr) return false;
  struct statvfs st {};
  if (::statvfs(path, &st) != 0) return false;
  return static_cast<unsigned long long>(st.f_bavail) * st.f_frsize < disk_nearly_full_bytes;
}

// A full store — the map (store_bytes_max) or the disk (ENOSPC, EDQUOT, or EIO with the file
// system out of space) — is Code::overloaded with one clear message wherever it is reported;
// anything else LMDB or the OS says is Code::io. `env` (may be null) locates the store.
Status lmdb_error(std::string_view what, int rc, MDB_env* env = nullptr) {
  const std::string detail = std::string(what) + ": " + mdb_strerror(rc);
  const bool map_full = rc == MDB_MAP_FULL;
  const bool disk_full = rc == ENOSPC || rc == EDQUOT || (rc == EIO && disk_nearly_full(env));
  if (map_full || disk_full) {
    return overloaded(std::string("store full (disk or map size): ") +
                      (map_full ? "the map is full (MDB_MAP_FULL): raise store_bytes_max"
                                : "the disk is full: free space on the store's file system") +
                      " (" + detail + ")");
  }
  return io_error("store: " + detail);
}

Result<std::optional<Bytes>> get_in(MDB_txn* txn, Table table, Bytes key) {
  MDB_val k = val(key), v{};
  int rc = mdb_get(txn, table.handle(), &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<Bytes>();
  if (rc != 0) return lmdb_error("get", rc);
  return std::optional<Bytes>(bytes(v));
}

Result<MDB_cursor*> open_cursor(MDB_txn* txn, Table table) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn, table.handle(), &c);
  if (rc != 0) return lmdb_error("cursor", rc);
  return c;
}

}  // namespace

Status error_status(std::string_view what, int rc) { return lmdb_error(what, rc); }

std::optional<std::uint64_t> from_be64(Bytes b) {
  if (b.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (std::uint8_t x : b) v = (v << 8) | x;
  return v;
}

// --- Cursor -------------------------------------------------------------------------------

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<std::optional<std::pair<Bytes, Bytes>>> Cursor::next(Bytes seek_key) {
  MDB_val k{}, v{};
  int rc;
  if (!started_) {
    started_ = true;
    if (seek_key.empty()) {
      rc = mdb_cursor_get(cursor_, &k, &v, MDB_FIRST);
    } else {
      k = val(seek_key);
      rc = mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
    }
  } else {
    rc = mdb_cursor_get(cursor_, &k, &v, MDB_NEXT);
  }
  if (rc == MDB_NOTFOUND) return std::optional<std::pair<Bytes, Bytes>>();
  if (rc != 0) return lmdb_error("cursor next", rc);
  return std::optional<std::pair<Bytes, Bytes>>(std::pair(bytes(k), bytes(v)));
}

// --- ReadTxn ------------------------------------------------------------------------------

ReadTxn::~ReadTxn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Result<std::optional<Bytes>> ReadTxn::get(Table table, Bytes key) const {
  return get_in(txn_, table, key);
}

Result<Cursor> ReadTxn::cursor(Table table) const {
  CG_ASSIGN_OR_RETURN(MDB_cursor * c, open_cursor(txn_, table));
  return Cursor(c);
}

Result<std::uint64_t> ReadTxn::count(Table table) const {
  MDB_stat stat{};
  int rc = mdb_stat(txn_, table.handle(), &stat);
  if (rc != 0) return lmdb_error("stat", rc);
  return static_cast<std::uint64_t>(stat.ms_entries);
}

// --- WriteTxn -----------------------------------------------------------------------------

Result<std::uint64_t> WriteTxn::count(Table table) const {
  MDB_stat stat{};
  int rc = mdb_stat(txn_, table.handle(), &stat);
  if (rc != 0) return lmdb_error("stat", rc);
  return static_cast<std::uint64_t>(stat.ms_entries);
}

WriteTxn::~WriteTxn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Status WriteTxn::put(Table table, Bytes key, Bytes value) {
  CG_ASSERT(txn_ != nullptr);
  MDB_val k = val(key), v = val(value);
  int rc = mdb_put(txn_, table.handle(), &k, &v, 0);
  if (rc != 0) return lmdb_error("put", rc);
  return {};
}

Status WriteTxn::insert(Table table, Bytes key, Bytes value) {
  CG_ASSERT(txn_ != nullptr);
  MDB_val k = val(key), v = val(value);
  int rc = mdb_put(txn_, table.handle(), &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return rejected("store: key exists");
  if (rc != 0) return lmdb_error("insert", rc);
  return {};
}

Result<bool> WriteTxn::erase(Table table, Bytes key) {
  CG_ASSERT(txn_ != nullptr);
  MDB_val k = val(key);
  int rc = mdb_del(txn_, table.handle(), &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb_error("erase", rc);
  return true;
}

Result<std::optional<Bytes>> WriteTxn::get(Table table, Bytes key) const {
  CG_ASSERT(txn_ != nullptr);
  return get_in(txn_, table, key);
}

Result<Cursor> WriteTxn::cursor(Table table) const {
  CG_ASSERT(txn_ != nullptr);
  CG_ASSIGN_OR_RETURN(MDB_cursor * c, open_cursor(txn_, table));
  return Cursor(c);
}

Status WriteTxn::commit() {
  CG_ASSERT(txn_ != nullptr);
  MDB_env* env = mdb_txn_env(txn_);
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));  // frees the txn even on failure
  if (rc != 0) return lmdb_error("commit", rc, env);
  return {};
}

// --- Env ----------------------------------------------------------------------------------

// LMDB forbids opening one environment twice in one process: closing either handle drops the
// process's locks on the lock file, and the next open re-initialises it under the other
// handle's feet (a crash seen when a reviewer command ran in-process beside a node in a
// test). So every Env of one store directory in this process shares one MDB_env, closed with
// the last of them.
namespace {
struct SharedEnv {
  MDB_env* env = nullptr;
  int refs = 0;
  bool read_only = false;
  std::size_t map_bytes = 0;
};
Mutex shared_envs_mu;
std::map<std::pair<dev_t, ino_t>, SharedEnv> shared_envs CG_GUARDED_BY(shared_envs_mu);

std::optional<std::pair<dev_t, ino_t>> identity_of(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return std::nullopt;
  return std::pair{st.st_dev, st.st_ino};
}
}  // namespace

Result<std::unique_ptr<Env>> Env::open(const Options& options) {
  if (options.path.empty()) return io_error("store: no path configured");
  MutexLock lock(shared_envs_mu);
  if (auto id = identity_of(options.path)) {
    auto it = shared_envs.find(*id);
    if (it != shared_envs.end()) {
      if (it->second.read_only && !options.read_only)
        return io_error("store: " + options.path + " is open read-only in this process");
      ++it->second.refs;
      return std::unique_ptr<Env>(new Env(it->second.env, it->second.map_bytes, options.read_only));
    }
  }
  if (options.read_only) {
    struct stat st {};
    if (::stat((options.path + "/data.mdb").c_str(), &st) != 0) {
      return io_error("store: no store at " + options.path);
    }
  } else if (::mkdir(options.path.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("store: cannot create " + options.path + ": " + std::strerror(errno));
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return lmdb_error("create", rc);
  auto fail = [env](const char* what, int code) {
    mdb_env_close(env);
    return lmdb_error(what, code);
  };
  if ((rc = mdb_env_set_mapsize(env, options.map_bytes)) != 0) return fail("set map size", rc);
  if ((rc = mdb_env_set_maxdbs(env, options.tables_max)) != 0) return fail("set tables", rc);
  if ((rc = mdb_env_set_maxreaders(env, options.readers_max)) != 0) return fail("set readers", rc);
  // Durable by default: no MDB_NOSYNC / MDB_NOMETASYNC. MDB_NOTLS lets read transactions move
  // between threads of a stage.
  const unsigned flags = MDB_NOTLS | (options.read_only ? MDB_RDONLY : 0u);
  if ((rc = mdb_env_open(env, options.path.c_str(), flags, 0600)) != 0) {
    return fail(("open " + options.path).c_str(), rc);
  }
  // Readers left behind by a process killed with -9 would pin old pages forever.
  int dead = 0;
  if (!options.read_only) mdb_reader_check(env, &dead);
  if (auto id = identity_of(options.path))
    shared_envs[*id] = {env, 1, options.read_only, options.map_bytes};
  return std::unique_ptr<Env>(new Env(env, options.map_bytes, options.read_only));
}

Env::~Env() {
  MutexLock lock(shared_envs_mu);
  for (auto it = shared_envs.begin(); it != shared_envs.end(); ++it) {
    if (it->second.env != env_) continue;
    if (--it->second.refs > 0) return;
    shared_envs.erase(it);
    break;
  }
  mdb_env_close(env_);
}

Result<std::optional<Table>> Env::find_table(std::string_view name) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, read_only_ ? MDB_RDONLY : 0, &txn);
  if (rc != 0) return lmdb_error("begin", rc);
  MDB_dbi dbi = 0;
  std::string n(name);
  rc = mdb_dbi_open(txn, n.c_str(), read_only_ ? 0 : MDB_CREATE, &dbi);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return std::optional<Table>{};
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(("open table " + n).c_str(), rc);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return lmdb_error("commit table", rc);
  return std::optional<Table>{Table(dbi)};
}

Result<Table> Env::table(std::string_view name) {
  CG_ASSIGN_OR_RETURN(auto t, find_table(name));
  if (!t) return io_error("store: has no table '" + std::string(name) + "'");
  return *t;
}

Result<ReadTxn> Env::begin_read() const {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return lmdb_error("begin read", rc);
  return ReadTxn(txn);
}

Result<WriteTxn> Env::begin_write() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return lmdb_error("begin write", rc);
  return WriteTxn(txn);
}

std::size_t Env::used_bytes() const {
  MDB_envinfo info{};
  MDB_stat stat{};
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  return (info.me_last_pgno + 1) * stat.ms_psize;
}

// --- NodeLock -----------------------------------------------------------------------------

Result<std::unique_ptr<NodeLock>> NodeLock::acquire(const std::string& store_dir) {
  if (store_dir.empty()) return io_error("store: no path configured");
  if (::mkdir(store_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return io_error("store: cannot create " + store_dir + ": " + std::strerror(errno));
  }
  const std::string path = store_dir + "/node.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return io_error("store: cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder = "unknown pid";
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) {
      std::string_view text(buf, static_cast<std::size_t>(n));
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
      const bool digits = !text.empty() && text.find_first_not_of("0123456789") == text.npos;
      if (digits) holder = "pid " + std::string(text);
    }
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return rejected("store " + store_dir + " is in use by another node (" + holder + ")");
    }
    return io_error("store: cannot lock " + path + ": " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd);
    return io_error("store: cannot write " + path + ": " + std::strerror(err));
  }
  return std::unique_ptr<NodeLock>(new NodeLock(fd));
}

NodeLock::~NodeLock() { ::close(fd_); }

}  // namespace cg::store
