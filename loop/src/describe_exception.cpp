// describe_exception: see errors.hpp.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

#include <fmt/format.h>

#include <simloop/errors.hpp>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define SIMLOOP_HAVE_CXXABI 1
#endif

namespace simloop {

namespace {

// Removes every occurrence of `part` from `s`.
void erase_all(std::string& s, std::string_view part) {
  for (std::size_t at = s.find(part); at != std::string::npos; at = s.find(part, at)) s.erase(at, part.size());
}

// The readable name of a type, from type_info::name().
std::string type_name(const std::type_info& type) {
  std::string name = type.name();
#ifdef SIMLOOP_HAVE_CXXABI
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status),
                                                   std::free);
  if (status == 0 && demangled) name = demangled.get();
#endif
  // The standard libraries' inline namespaces say nothing to a reader.
  erase_all(name, "__cxx11::");
  erase_all(name, "[abi:cxx11]");
  erase_all(name, "__1::");
  return name;
}

// Whether the exception being handled was thrown as a T (false when the
// C++ ABI cannot say).
template <typename T>
bool thrown_type_is() {
#ifdef SIMLOOP_HAVE_CXXABI
  const std::type_info* type = abi::__cxa_current_exception_type();
  return type != nullptr && *type == typeid(T);
#else
  return false;
#endif
}

// The type std::throw_with_nested wrapped: std::_Nested_exception<T>
// (libstdc++) or std::__nested<T> (libc++) shows as T.
std::string unwrap_nested(std::string name) {
  if (name.rfind("std::", 0) != 0) return name;
  const std::size_t open = name.find('<');
  if (open == std::string::npos || name.back() != '>') return name;
  return name.substr(open + 1, name.size() - open - 2);
}

// `s` as a C string literal: quoted, with quotes, backslashes and
// non-printable bytes escaped.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string c_string(const char* s) { return s != nullptr ? quoted(s) : std::string("nullptr"); }

template <class T>
std::string value_text(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, char>) {
    // A character, quoted as a C character literal.
    if (v == '\'') return "'\\''";
    if (v == '\\') return "'\\\\'";
    if (static_cast<unsigned char>(v) < 0x20 || v == 0x7f) {
      return fmt::format("'\\x{:02x}'", static_cast<unsigned char>(v));
    }
    return fmt::format("'{}'", v);
  } else if constexpr (std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> || std::is_same_v<T, char16_t> ||
                       std::is_same_v<T, char32_t>) {
    return fmt::format("{}", static_cast<std::uint32_t>(v));  // the code unit
  } else if constexpr (std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char>) {
    return fmt::format("{}", static_cast<int>(v));
  } else {
    return fmt::format("{}", v);
  }
}

template <class T>
std::string of_value(T v) {
  return fmt::format("an exception of type {}: {}", type_name(typeid(T)), value_text(v));
}

std::string of_std_exception(const std::exception& e) {
  std::string out = type_name(typeid(e));
  const auto* nested = dynamic_cast<const std::nested_exception*>(&e);
  if (nested != nullptr) out = unwrap_nested(std::move(out));
  out += ": ";
  out += e.what();
  if (nested != nullptr && nested->nested_ptr()) {
    out += " (caused by ";
    out += describe_exception(nested->nested_ptr());
    out += ')';
  }
  return out;
}

}  // namespace

std::string describe_exception(const std::exception_ptr& e) {
  if (!e) return "no exception";
  // One handler per type named in the contract; a thrown value matches only
  // a handler of its own type (no integral conversions), and char* must come
  // before const char*, which would match it too.
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError& c) {
    return fmt::format("CancelledError({})", c.message());
  } catch (const std::exception& x) {
    return of_std_exception(x);
  } catch (bool v) {
    return of_value(v);
  } catch (char v) {
    return of_value(v);
  } catch (signed char v) {
    return of_value(v);
  } catch (unsigned char v) {
    return of_value(v);
  } catch (wchar_t v) {
    return of_value(v);
  } catch (char8_t v) {
    return of_value(v);
  } catch (char16_t v) {
    return of_value(v);
  } catch (char32_t v) {
    return of_value(v);
  } catch (short v) {
    return of_value(v);
  } catch (unsigned short v) {
    return of_value(v);
  } catch (int v) {
    return of_value(v);
  } catch (unsigned v) {
    return of_value(v);
  } catch (long v) {
    return of_value(v);
  } catch (unsigned long v) {
    return of_value(v);
  } catch (long long v) {
    return of_value(v);
  } catch (unsigned long long v) {
    return of_value(v);
  } catch (float v) {
    return of_value(v);
  } catch (double v) {
    return of_value(v);
  } catch (long double v) {
    return of_value(v);
  } catch (const char* s) {
    // One handler for both (it catches a thrown char* too; clang rejects a
    // separate char* handler before it as shadowing): the thrown type names which.
    const bool is_mutable = thrown_type_is<char*>();
    return fmt::format("an exception of type {}: {}", is_mutable ? "char*" : "const char*", c_string(s));
  } catch (const std::string& s) {
    return fmt::format("an exception of type std::string: {}", quoted(s));
  } catch (...) {
#ifdef SIMLOOP_HAVE_CXXABI
    if (const std::type_info* type = abi::__cxa_current_exception_type(); type != nullptr) {
      return fmt::format("an exception of type {}", type_name(*type));
    }
#endif
    return "an exception of unknown type";
  }
}

}  // namespace simloop
