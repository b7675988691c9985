// A std::mutex that clang's -Wthread-safety understands (STYLE.md habit 11). Internal to
// gateway/link.
#pragma once

#include <mutex>

#if defined(__clang__)
#define CG_TSA(x) __attribute__((x))
#else
#define CG_TSA(x)
#endif
#define CAPABILITY(x) CG_TSA(capability(x))
#define GUARDED_BY(x) CG_TSA(guarded_by(x))
#define ACQUIRE(...) CG_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) CG_TSA(release_capability(__VA_ARGS__))
#define SCOPED_CAPABILITY CG_TSA(scoped_lockable)

namespace cg::link {

class CAPABILITY("mutex") Mutex final {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock final {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace cg::link
