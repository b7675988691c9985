// The one mutex type of cellgate: a std::mutex that clang's -Wthread-safety understands
// (STYLE.md habit 11), with a scoped lock and a condition variable that waits on it. Every
// module that shares state between threads uses these, and annotates what each mutex guards
// with CG_GUARDED_BY, so the compiler checks every access (cmake/Warnings.cmake turns
// -Wthread-safety on for every cellgate target).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define CG_TSA(x) __attribute__((x))
#else
#define CG_TSA(x)
#endif
#define CG_CAPABILITY(x) CG_TSA(capability(x))
#define CG_GUARDED_BY(x) CG_TSA(guarded_by(x))
#define CG_ACQUIRE(...) CG_TSA(acquire_capability(__VA_ARGS__))
#define CG_RELEASE(...) CG_TSA(release_capability(__VA_ARGS__))
#define CG_REQUIRES(...) CG_TSA(requires_capability(__VA_ARGS__))
#define CG_EXCLUDES(...) CG_TSA(locks_excluded(__VA_ARGS__))
#define CG_SCOPED_CAPABILITY CG_TSA(scoped_lockable)

namespace cg {

class CG_CAPABILITY("mutex") Mutex final {
 public:
  void lock() CG_ACQUIRE() { mu_.lock(); }
  void unlock() CG_RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class CG_SCOPED_CAPABILITY MutexLock final {
 public:
  explicit MutexLock(Mutex& mu) CG_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() CG_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  friend class CondVar;
  Mutex& mu_;
};

// Waits release the lock's mutex and take it again before returning, as
// std::condition_variable does; the analysis sees the mutex held throughout.
class CondVar final {
 public:
  void notify_one() { cv_.notify_one(); }
  void notify_all() { cv_.notify_all(); }
  template <class Predicate>
  void wait(MutexLock& lock, Predicate done) {
    cv_.wait(lock.mu_, std::move(done));
  }
  // False when `timeout` passed with `done` still false.
  template <class Rep, class Period, class Predicate>
  bool wait_for(MutexLock& lock, std::chrono::duration<Rep, Period> timeout, Predicate done) {
    return cv_.wait_for(lock.mu_, timeout, std::move(done));
  }

 private:
  std::condition_variable_any cv_;
};

}  // namespace cg
