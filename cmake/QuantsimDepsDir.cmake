# QUANTSIM_DEPS_DIR: take every third-party dependency except LibTorch (and CUDA) from the folder that
# scripts/gpu/prepare.sh fills, never from the system. For a machine without our dev packages (the GPU machine: no apt,
# no network). Makes targets named like the packages' own, so the rest of the build does not know the difference:
#   fmt::fmt, spdlog::spdlog      header-only (FMT_HEADER_ONLY; spdlog without SPDLOG_COMPILED_LIB, on external fmt
#                                 as Debian builds it: its tweakme.h defines SPDLOG_FMT_EXTERNAL)
#   cxxopts::cxxopts, nlohmann_json::nlohmann_json   header-only
#   OpenSSL::Crypto               the folder's libcrypto.so.3 (OpenSSL 3.0 ABI), linked by full path; CMake puts its
#                                 folder in the build tree's RPATH, so programs load that copy, not the machine's
#   GTest::gtest, GTest::gtest_main, GTest::gmock, GTest::gmock_main   built from the folder's sources
# The folder's include/ is a system include directory placed before /usr/include: on a machine that has the system
# packages too, the folder's headers win (scripts/gpu/rehearse_deps_build.sh checks that no system one is read).
get_filename_component(QUANTSIM_DEPS_DIR "${QUANTSIM_DEPS_DIR}" ABSOLUTE BASE_DIR "${PROJECT_SOURCE_DIR}")
foreach(_file include/fmt/format-inl.h include/spdlog/spdlog.h include/cxxopts.hpp include/nlohmann/json.hpp
              include/openssl/evp.h include/openssl/configuration.h lib/libcrypto.so.3 googletest/CMakeLists.txt)
  if(NOT EXISTS "${QUANTSIM_DEPS_DIR}/${_file}")
    message(FATAL_ERROR "QUANTSIM_DEPS_DIR=${QUANTSIM_DEPS_DIR} has no ${_file}: make the folder with "
                        "scripts/gpu/prepare.sh (on a machine with the dev packages) and carry it here")
  endif()
endforeach()
message(STATUS "Third-party dependencies from ${QUANTSIM_DEPS_DIR} (QUANTSIM_DEPS_DIR), not from the system")

set(_deps_include "${QUANTSIM_DEPS_DIR}/include")
function(quantsim_header_only_target name)
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_deps_include}" ${ARGN})
endfunction()
quantsim_header_only_target(fmt::fmt INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
quantsim_header_only_target(spdlog::spdlog INTERFACE_COMPILE_DEFINITIONS SPDLOG_FMT_EXTERNAL=1)
set_property(TARGET spdlog::spdlog PROPERTY INTERFACE_LINK_LIBRARIES fmt::fmt Threads::Threads)
quantsim_header_only_target(cxxopts::cxxopts)
quantsim_header_only_target(nlohmann_json::nlohmann_json)

add_library(OpenSSL::Crypto SHARED IMPORTED GLOBAL)
set_target_properties(OpenSSL::Crypto PROPERTIES IMPORTED_LOCATION "${QUANTSIM_DEPS_DIR}/lib/libcrypto.so.3"
                                                 IMPORTED_SONAME libcrypto.so.3
                                                 INTERFACE_INCLUDE_DIRECTORIES "${_deps_include}")

if(QUANTSIM_BUILD_TESTS)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK ON CACHE BOOL "" FORCE)
  add_subdirectory("${QUANTSIM_DEPS_DIR}/googletest" "${PROJECT_BINARY_DIR}/deps_googletest" EXCLUDE_FROM_ALL)
  # Their headers as system headers, as the installed package's are: our warning flags are not theirs to meet.
  foreach(_gtest_target gtest gtest_main gmock gmock_main)
    get_target_property(_dirs ${_gtest_target} INTERFACE_INCLUDE_DIRECTORIES)
    set_property(TARGET ${_gtest_target} PROPERTY INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_dirs}")
  endforeach()
endif()
