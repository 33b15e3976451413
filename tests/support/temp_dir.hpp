// A fresh directory for one test, removed when the test ends.
//
// ctest runs tests in parallel, and the three builds may run side by side:
// a fixed name under the temp directory lets one test's clean-up delete
// another's files. mkdtemp gives each test its own directory, named after
// the test so a left-over one says where it came from.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace simloop::testing {

class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& purpose) {
    std::string name = "simloop-" + purpose;
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
      name += std::string("-") + info->test_suite_name() + "." + info->name();
    }
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    std::string pattern = (std::filesystem::temp_directory_path() / (name + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "cannot create a temporary directory " + pattern);
    }
    path_ = pattern;
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir() {
    std::error_code ignored;  // clean-up failure must not mask the test's own result
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace simloop::testing
