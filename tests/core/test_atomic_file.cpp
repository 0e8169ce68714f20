// Files that are not what they seem, at the shared reader and writer: symbolic links are written through, special
// files are refused (or written in place where that is what write_output_file promises), the temporary file of an
// interrupted write does not outlive its process, and reading a FIFO fails at once instead of blocking.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "quantsim/core/atomic_file.h"
#include "quantsim/core/errors.h"
#include "support/child_process.h"
#include "support/fixtures.h"

namespace fs = std::filesystem;
using namespace quantsim;
using namespace quantsim::testing;

namespace {

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name()); }
  void TearDown() override {
    set_atomic_write_test_hook(nullptr);
    fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // The names in the test folder that look like temporary files of an atomic write.
  std::vector<std::string> temp_files() const {
    std::vector<std::string> names;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.find(".tmp.") != std::string::npos) names.push_back(name);
    }
    return names;
  }

  std::string dir_;
};

// The message of the UserError that `action` throws, or "" (and a test failure) when it throws none.
std::string user_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UserError";
  return "";
}

void expect_one_line_naming(const std::string& message, const std::string& path, const std::string& what) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

void make_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);
}

// ---- Writing through symbolic links ----------------------------------------------------------------------------

TEST_F(AtomicFile, WritesTheTargetOfASymbolicLinkAndKeepsTheLink) {
  fs::create_directories(path("real"));
  write_file_atomically(path("real/stats.json"), "old");
  fs::create_symlink("real/stats.json", path("hop"));  // relative, and a chain of two links
  fs::create_symlink("hop", path("stats.json"));

  write_file_atomically(path("stats.json"), "new");

  EXPECT_TRUE(fs::is_symlink(path("stats.json")));
  EXPECT_TRUE(fs::is_symlink(path("hop")));
  EXPECT_EQ(read_file(path("real/stats.json")), "new");
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(AtomicFile, RefusesADanglingSymbolicLink) {
  fs::create_symlink(path("nowhere/stats.json"), path("stats.json"));
  const std::string message = user_error_of([&] { write_file_atomically(path("stats.json"), "x"); });
  expect_one_line_naming(message, path("stats.json"), "dangling symbolic link");
  EXPECT_FALSE(fs::exists(path("nowhere")));
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(AtomicFile, RefusesASymbolicLinkLoop) {
  fs::create_symlink("b", path("a"));
  fs::create_symlink("a", path("b"));
  expect_one_line_naming(user_error_of([&] { write_file_atomically(path("a"), "x"); }), path("a"),
                         "symbolic link loop");
  expect_one_line_naming(user_error_of([&] { read_file(path("a")); }), path("a"), "symbolic link loop");
  EXPECT_TRUE(fs::is_symlink(path("a")));
}

// ---- Destinations that are not regular files --------------------------------------------------------------------

TEST_F(AtomicFile, RefusesToReplaceADirectoryAFifoOrASocket) {
  fs::create_directories(path("folder"));
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  make_socket(path("socket"));
  fs::create_symlink("fifo", path("link_to_fifo"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"folder", "is a directory, not a regular file"},
      {"fifo", "is a FIFO, not a regular file"},
      {"socket", "is a socket, not a regular file"},
      {"link_to_fifo", "which is a FIFO, not a regular file"}};
  for (const auto& [name, what] : cases) {
    expect_one_line_naming(user_error_of([&] { write_file_atomically(path(name), "x"); }), path(name), what);
  }
  EXPECT_TRUE(fs::is_directory(path("folder")));
  EXPECT_TRUE(fs::is_fifo(path("fifo")));
  EXPECT_TRUE(fs::is_socket(path("socket")));
  EXPECT_TRUE(fs::is_symlink(path("link_to_fifo")));
  EXPECT_TRUE(temp_files().empty());
}

TEST_F(AtomicFile, RefusesToReplaceADevice) {
  // A device node of our own where we may create one (root), so that a regression replaces only that; else
  // /dev/null, which a user who is not root cannot replace anyway.
  std::string device = path("null");
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    if (::geteuid() == 0) GTEST_SKIP() << "root without CAP_MKNOD: no device that is safe to test against";
    device = "/dev/null";
  }
  expect_one_line_naming(user_error_of([&] { write_file_atomically(device, "x"); }), device,
                         "is a character device, not a regular file");
  EXPECT_TRUE(fs::is_character_file(device));
}

// ---- write_output_file: streams, devices and FIFOs are written in place -----------------------------------------

TEST_F(AtomicFile, OutputFileWritesAFifoInPlace) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] {  // a FIFO's writer needs a reader, as `quant-sim report --out fifo & cat fifo` has
    std::ifstream in(path("fifo"), std::ios::binary);
    received.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  try {
    write_output_file(path("fifo"), "a table\n");
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    std::ofstream unblock_the_reader(path("fifo"));
  }
  reader.join();
  EXPECT_EQ(received, "a table\n");
  EXPECT_TRUE(fs::is_fifo(path("fifo")));
}

TEST_F(AtomicFile, OutputFileWritesDashAndDevStdoutToStandardOutput) {
  for (const std::string name : {"-", "/dev/stdout"}) {
    const std::string captured = path("captured");
    std::fflush(stdout);
    const int saved = ::dup(1);
    const int fd = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    write_output_file(name, "to stdout\n");
    std::fflush(stdout);
    ::dup2(saved, 1);
    ::close(fd);
    ::close(saved);
    EXPECT_EQ(read_file(captured), "to stdout\n") << name;
  }
  write_output_file("/dev/null", "discarded");  // a character device: written in place, never replaced
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

TEST_F(AtomicFile, OutputFileReplacesARegularFileAtomically) {
  write_file_atomically(path("table.txt"), "old");
  fs::create_symlink("table.txt", path("link.txt"));
  write_output_file(path("link.txt"), "new");
  EXPECT_EQ(read_file(path("table.txt")), "new");
  EXPECT_TRUE(fs::is_symlink(path("link.txt")));
}

// ---- Temporary files of interrupted writes ----------------------------------------------------------------------

int g_ready_pipe = -1;

// Test hook: tells the parent that the temporary file exists, then waits to be killed.
void announce_and_wait(const std::string&) {
  const char byte = 1;
  (void)!::write(g_ready_pipe, &byte, 1);
  for (;;) ::pause();
}

TEST_F(AtomicFile, ASignalDuringAWriteRemovesTheTemporaryFile) {
  for (const int signal : {SIGINT, SIGTERM}) {
    // The handlers are installed at the first write of a process, for signals that are not ignored; a test run in
    // the background of a shell inherits an ignored SIGINT, so un-ignore it first (ctest runs each test in a
    // process of its own, so that this comes before that first write).
    struct sigaction current {};
    ::sigaction(signal, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_IGN) std::signal(signal, SIG_DFL);
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::alarm(10);  // never outlive a broken test
      g_ready_pipe = ready[1];
      set_atomic_write_test_hook(announce_and_wait);
      write_file_atomically(path("stats.json"), std::string(1 << 20, 'x'));
      ::_exit(0);
    }
    char byte = 0;
    ASSERT_EQ(::read(ready[0], &byte, 1), 1);
    EXPECT_EQ(temp_files().size(), 1u);  // the hook ran: the temporary file exists
    ::kill(child, signal);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), signal) << "the process must still end by the signal it got";
    EXPECT_TRUE(temp_files().empty()) << "signal " << signal;
    EXPECT_FALSE(fs::exists(path("stats.json")));
    ::close(ready[0]);
    ::close(ready[1]);
  }
}

std::string g_seen_temp;
void remember_temp(const std::string& temp) { g_seen_temp = temp; }

// A pid that no process has: a child's, once it is reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST_F(AtomicFile, TheNextWriteRemovesTemporaryFilesOfDeadProcessesOnly) {
  // Learn this host's naming (<target>.tmp.<pid>.<host>.XXXXXX) from a real write, then plant leftovers.
  set_atomic_write_test_hook(remember_temp);
  write_file_atomically(path("stats.json"), "v1");
  set_atomic_write_test_hook(nullptr);
  const std::string own_pid = "." + std::to_string(::getpid()) + ".";
  const std::string temp_name = fs::path(g_seen_temp).filename().string();
  ASSERT_NE(temp_name.find(own_pid), std::string::npos) << temp_name;
  const auto planted = [&](pid_t pid, const std::string& host_suffix) {
    std::string name = temp_name;
    name.replace(name.find(own_pid), own_pid.size(), "." + std::to_string(pid) + ".");
    name.insert(name.size() - 7, host_suffix);  // before ".XXXXXX": another host's name
    std::ofstream(path(name)) << "partial";
    return name;
  };
  const std::string of_dead_process = planted(dead_pid(), "");
  const std::string of_live_process = planted(::getppid(), "");
  const std::string of_another_host = planted(dead_pid(), "-elsewhere");
  const std::string unrelated = "stats.json.tmp.AbC123";  // not of this naming (e.g. an older version's)
  std::ofstream(path(unrelated)) << "partial";

  write_file_atomically(path("stats.json"), "v2");

  EXPECT_EQ(read_file(path("stats.json")), "v2");
  EXPECT_FALSE(fs::exists(path(of_dead_process)));
  EXPECT_TRUE(fs::exists(path(of_live_process)));
  EXPECT_TRUE(fs::exists(path(of_another_host)));
  EXPECT_TRUE(fs::exists(path(unrelated)));
}

// ---- Reading ----------------------------------------------------------------------------------------------------

TEST_F(AtomicFile, ReadingAFifoFailsAtOnce) {
  ASSERT_EQ(::mkfifo(path("model.json").c_str(), 0644), 0);
  fs::create_symlink("model.json", path("link.json"));
  for (const std::string name : {"model.json", "link.json"}) {
    EXPECT_TRUE(passes_in_child_before_deadline([&] {
      const std::string message = user_error_of([&] { read_file(path(name)); });
      return message == path(name) + ": is a FIFO, not a regular file";
    })) << name;
  }
}

TEST_F(AtomicFile, ReadingRefusesWhatIsNotARegularFile) {
  fs::create_directories(path("folder"));
  fs::create_symlink("missing.json", path("dangling.json"));
  expect_one_line_naming(user_error_of([&] { read_file(path("folder")); }), path("folder"), "is a directory");
  expect_one_line_naming(user_error_of([&] { read_file(path("dangling.json")); }), path("dangling.json"),
                         "dangling symbolic link (to missing.json)");
  expect_one_line_naming(user_error_of([&] { read_file(path("absent.json")); }), path("absent.json"),
                         "No such file or directory");
  expect_one_line_naming(user_error_of([&] { open_regular_file_for_reading(path("folder")); }), path("folder"),
                         "is a directory");
  EXPECT_EQ(regular_file_problem("/dev/null"), "is a character device, not a regular file");
}

}  // namespace
