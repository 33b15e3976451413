// describe_exception: one line for any exception, std::exception or not.
#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>
#include <string>

#include <simloop/simloop.hpp>

using simloop::describe_exception;

namespace describe_test {
class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
struct NotAnError {
  int code = 0;
};
}  // namespace describe_test

namespace {

template <class E>
std::string describe_thrown(E e) {
  return describe_exception(std::make_exception_ptr(std::move(e)));
}

}  // namespace

TEST(DescribeException, StdExceptionsShowTheirDynamicTypeAndWhat) {
  EXPECT_EQ(describe_thrown(std::runtime_error("boom")), "std::runtime_error: boom");
  EXPECT_EQ(describe_thrown(std::out_of_range("index 3")), "std::out_of_range: index 3");
  EXPECT_EQ(describe_thrown(describe_test::Failure("bad")), "describe_test::Failure: bad");
  // Thrown as a derived type, described as that type, not as the static one.
  const std::exception_ptr as_base = std::make_exception_ptr<std::runtime_error>(describe_test::Failure("sliced"));
  EXPECT_EQ(describe_exception(as_base), "std::runtime_error: sliced");
  std::exception_ptr derived;
  try {
    throw describe_test::Failure("derived");
  } catch (const std::exception&) {
    derived = std::current_exception();
  }
  EXPECT_EQ(describe_exception(derived), "describe_test::Failure: derived");
}

TEST(DescribeException, SimloopErrorsAreNamedReadably) {
  EXPECT_EQ(describe_thrown(simloop::TimeoutError("too late")), "simloop::TimeoutError: too late");
  EXPECT_EQ(describe_thrown(simloop::QueueEmpty("Queue.get_nowait: the queue is empty")),
            "simloop::QueueEmpty: Queue.get_nowait: the queue is empty");
}

TEST(DescribeException, ANestedExceptionShowsTheTypeItWrapsAndItsCause) {
  std::exception_ptr e;
  try {
    try {
      throw simloop::CancelledError("inner");
    } catch (const simloop::CancelledError&) {
      std::throw_with_nested(simloop::TimeoutError("wait_for: timed out"));
    }
  } catch (...) {
    e = std::current_exception();
  }
  EXPECT_EQ(describe_exception(e), "simloop::TimeoutError: wait_for: timed out (caused by CancelledError(inner))");
}

TEST(DescribeException, CancelledErrorShowsItsMessage) {
  EXPECT_EQ(describe_thrown(simloop::CancelledError()), "CancelledError()");
  EXPECT_EQ(describe_thrown(simloop::CancelledError("shutting down")), "CancelledError(shutting down)");
}

TEST(DescribeException, ArithmeticValuesShowTheirTypeAndValue) {
  EXPECT_EQ(describe_thrown(42), "an exception of type int: 42");
  EXPECT_EQ(describe_thrown(-7L), "an exception of type long: -7");
  EXPECT_EQ(describe_thrown(3U), "an exception of type unsigned int: 3");
  EXPECT_EQ(describe_thrown(18446744073709551615ULL), "an exception of type unsigned long long: 18446744073709551615");
  EXPECT_EQ(describe_thrown(static_cast<short>(-2)), "an exception of type short: -2");
  EXPECT_EQ(describe_thrown(static_cast<unsigned char>(200)), "an exception of type unsigned char: 200");
  EXPECT_EQ(describe_thrown(true), "an exception of type bool: true");
  EXPECT_EQ(describe_thrown('x'), "an exception of type char: 'x'");
  EXPECT_EQ(describe_thrown('\n'), "an exception of type char: '\\x0a'");
  EXPECT_EQ(describe_thrown(2.5), "an exception of type double: 2.5");
  EXPECT_EQ(describe_thrown(0.5F), "an exception of type float: 0.5");
}

TEST(DescribeException, StringsShowTheirTypeAndQuotedText) {
  EXPECT_EQ(describe_thrown("oops"), "an exception of type const char*: \"oops\"");
  char buffer[] = "mutable";
  EXPECT_EQ(describe_thrown(static_cast<char*>(buffer)), "an exception of type char*: \"mutable\"");
  EXPECT_EQ(describe_thrown(static_cast<const char*>(nullptr)), "an exception of type const char*: nullptr");
  EXPECT_EQ(describe_thrown(std::string("text")), "an exception of type std::string: \"text\"");
  EXPECT_EQ(describe_thrown(std::string("say \"hi\"\n\\")),
            "an exception of type std::string: \"say \\\"hi\\\"\\n\\\\\"");
}

TEST(DescribeException, AnyOtherTypeIsNamed) {
  EXPECT_EQ(describe_thrown(describe_test::NotAnError{3}), "an exception of type describe_test::NotAnError");
}

TEST(DescribeException, NoExceptionSaysSo) { EXPECT_EQ(describe_exception(nullptr), "no exception"); }

TEST(DescribeException, TheDefaultExceptionHandlerDescribesANonStandardException) {
  simloop::sim::SimLoop loop;
  testing::internal::CaptureStderr();
  simloop::EventLoop::default_exception_handler(loop, {"Exception in callback", std::make_exception_ptr(42), "cb"});
  simloop::EventLoop::default_exception_handler(
      loop, {"Exception in callback", std::make_exception_ptr(std::runtime_error("boom")), ""});
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "simloop [t=0ns]: Exception in callback\n  source: cb\n  exception: an exception of type int: 42\n"
            "simloop [t=0ns]: Exception in callback\n  exception: std::runtime_error: boom\n");
}

TEST(DescribeException, AFinishedTaskReprDescribesANonStandardException) {
  simloop::sim::SimLoop loop;
  auto raises = []() -> simloop::Coro<int> {
    throw describe_test::NotAnError{1};
    co_return 0;
  };
  simloop::Task<int> task = loop.create_task(raises(), "raiser");
  EXPECT_THROW(loop.run_until_complete(simloop::Future<int>(task)), describe_test::NotAnError);
  EXPECT_EQ(task.repr(), "<Task finished name='raiser' exception=an exception of type describe_test::NotAnError>");
}
