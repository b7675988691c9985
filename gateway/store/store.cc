#include "gateway/store/store.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace cg::store {
namespace {

MDB_val val(Bytes b) {
  return MDB_val{b.size(), const_cast<std::uint8_t*>(b.data())};  // LMDB does not write keys
}
Bytes bytes(const MDB_val& v) { return {static_cast<const std::uint8_t*>(v.mv_data), v.mv_size}; }

Status lmdb_error(const char* what, int rc) {
  std::string reason = std::string("store: ") + what + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) return overloaded(reason + " (raise the store size in the config)");
  return io_error(std::move(reason));
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
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));  // frees the txn even on failure
  if (rc != 0) return lmdb_error("commit", rc);
  return {};
}

// --- Env ----------------------------------------------------------------------------------

Result<std::unique_ptr<Env>> Env::open(const Options& options) {
  if (options.path.empty()) return io_error("store: no path configured");
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
  return std::unique_ptr<Env>(new Env(env, options.map_bytes, options.read_only));
}

Env::~Env() { mdb_env_close(env_); }

Result<Table> Env::table(std::string_view name) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, read_only_ ? MDB_RDONLY : 0, &txn);
  if (rc != 0) return lmdb_error("begin", rc);
  MDB_dbi dbi = 0;
  std::string n(name);
  rc = mdb_dbi_open(txn, n.c_str(), read_only_ ? 0 : MDB_CREATE, &dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return io_error("store: has no table '" + n + "'");
    return lmdb_error(("open table " + n).c_str(), rc);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return lmdb_error("commit table", rc);
  return Table(dbi);
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

}  // namespace cg::store
