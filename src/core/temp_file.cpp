#include "temp_file.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <mutex>

#include <fmt/format.h>

#include "quantsim/core/errors.h"

namespace quantsim::detail {
namespace fs = std::filesystem;

namespace {

// ---- Removal on SIGINT/SIGTERM/SIGHUP -------------------------------------------------------------------------
// A fixed table of live temporary files that the signal handler can read without allocating or locking: a slot is
// claimed (kFilling), its path written, then published (kLive); the handler unlinks the kLive ones, which is all
// it does before handing the signal on. Both steps are async-signal-safe.

enum SlotState : int { kFree, kFilling, kLive };
struct Slot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX] = {};
};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler reads slot states");

constexpr int kSlotCount = 64;  // more temporary files at once than this are left to remove_stale_temp_files
Slot g_slots[kSlotCount];

constexpr int kCleanedSignals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int kCleanedSignalCount = static_cast<int>(std::size(kCleanedSignals));
struct sigaction g_previous_actions[kCleanedSignalCount];

void remove_live_temp_files_then_hand_on(int signal, siginfo_t* info, void* context) {
  for (Slot& slot : g_slots) {
    if (slot.state.load(std::memory_order_acquire) == kLive) ::unlink(slot.path);
  }
  for (int i = 0; i < kCleanedSignalCount; ++i) {
    if (kCleanedSignals[i] != signal) continue;
    struct sigaction& previous = g_previous_actions[i];
    if ((previous.sa_flags & SA_SIGINFO) != 0) return previous.sa_sigaction(signal, info, context);
    if (previous.sa_handler != SIG_DFL) return previous.sa_handler(signal);
    // The default action: restore it and re-raise, so the process ends by this signal as if never caught (the
    // signal is blocked inside its handler, so it is delivered right after this returns).
    ::sigaction(signal, &previous, nullptr);
    ::raise(signal);
  }
}

// Installs the handler for each signal that is not ignored (an ignored SIGINT, as in a background job, must stay
// ignored); a handler already there is called after ours.
void install_signal_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int i = 0; i < kCleanedSignalCount; ++i) {
      struct sigaction current {};
      if (::sigaction(kCleanedSignals[i], nullptr, &current) != 0) continue;
      if ((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_IGN) continue;
      g_previous_actions[i] = current;
      struct sigaction ours {};
      ours.sa_sigaction = remove_live_temp_files_then_hand_on;
      ours.sa_flags = SA_SIGINFO | SA_RESTART;
      sigemptyset(&ours.sa_mask);
      ::sigaction(kCleanedSignals[i], &ours, nullptr);
    }
  });
}

// The registry slot now holding `path`, or -1 when there is none free.
int register_live_temp_file(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  install_signal_handlers_once();
  for (int i = 0; i < kSlotCount; ++i) {
    int expected = kFree;
    if (!g_slots[i].state.compare_exchange_strong(expected, kFilling)) continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(kLive, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_live_temp_file(int slot) {
  if (slot >= 0) g_slots[slot].state.store(kFree, std::memory_order_release);
}

// ---- Names -----------------------------------------------------------------------------------------------------
// <target>.tmp.<pid>.<host>.XXXXXX: the pid tells a later run whether the writer is gone, the host keeps machines
// that share a folder (NFS) from judging each other's processes.

const std::string& this_host() {
  static const std::string host = [] {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return std::string("localhost");
    std::string safe(name);
    for (char& c : safe) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
    }
    return safe;
  }();
  return host;
}

std::string temp_prefix(const std::string& target_name) { return target_name + ".tmp."; }

// The pid in `name` when it names a temporary file of `target_name` made on this host, else -1.
pid_t temp_file_owner(const std::string& name, const std::string& target_name) {
  const std::string prefix = temp_prefix(target_name);
  if (name.rfind(prefix, 0) != 0) return -1;
  const size_t digits = prefix.size();
  const size_t digits_end = name.find_first_not_of("0123456789", digits);
  if (digits_end == std::string::npos || digits_end == digits || digits_end - digits > 9) return -1;
  const std::string host_part = "." + this_host() + ".";
  if (name.compare(digits_end, host_part.size(), host_part) != 0) return -1;
  if (name.size() != digits_end + host_part.size() + 6) return -1;  // the six characters of mkstemp
  return static_cast<pid_t>(std::stol(name.substr(digits, digits_end - digits)));
}

bool process_is_gone(pid_t pid) { return pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

TempFile::TempFile(const std::string& target, const std::string& shown_path)
    : target_(target), shown_path_(shown_path) {
  path_ = fmt::format("{}{}.{}.XXXXXX", temp_prefix(target), ::getpid(), this_host());
  fd_ = ::mkstemp(path_.data());
  if (fd_ < 0) {
    throw UserError(fmt::format("{}: cannot create a temporary file: {}", shown_path_, std::strerror(errno)));
  }
  registry_slot_ = register_live_temp_file(path_);
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
  unregister_live_temp_file(registry_slot_);
}

void TempFile::commit() {
  if (::fsync(fd_) != 0) throw UserError(fmt::format("{}: fsync failed: {}", shown_path_, std::strerror(errno)));
  ::fchmod(fd_, 0644);
  ::close(fd_);
  fd_ = -1;
  if (::rename(path_.c_str(), target_.c_str()) != 0) {
    throw UserError(fmt::format("{}: cannot replace file: {}", shown_path_, std::strerror(errno)));
  }
  committed_ = true;
}

void remove_stale_temp_files(const std::string& target) {
  const fs::path target_path(target);
  const fs::path folder = target_path.has_parent_path() ? target_path.parent_path() : fs::path(".");
  const std::string target_name = target_path.filename().string();
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t owner = temp_file_owner(it->path().filename().string(), target_name);
    std::error_code type_ec;
    const bool plain_file = it->symlink_status(type_ec).type() == fs::file_type::regular;
    if (owner > 0 && plain_file && process_is_gone(owner)) ::unlink(it->path().c_str());
  }
}

}  // namespace quantsim::detail
