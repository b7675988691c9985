# cg_module(NAME [DIR folder] MODULES...): declares a module and the cg_ modules it may depend
# on (one line each, in cmake/Modules.cmake). The folder defaults to gateway/NAME.
function(cg_module name)
  cmake_parse_arguments(ARG "" "DIR" "" ${ARGN})
  if(NOT ARG_DIR)
    set(ARG_DIR gateway/${name})
  endif()
  set(CG_MODULES ${CG_MODULES} ${name} PARENT_SCOPE)
  set(CG_MODULE_${name}_DIR ${ARG_DIR} PARENT_SCOPE)
  set(CG_MODULE_${name}_DEPS ${ARG_UNPARSED_ARGUMENTS} PARENT_SCOPE)
endfunction()

# Fails the configuration when module `name` is not declared with cg_module, or when `deps`
# name a cg_ library that its line in cmake/Modules.cmake does not allow.
function(cg_check_module_deps name)
  if(NOT name IN_LIST CG_MODULES)
    message(FATAL_ERROR "module cg_${name} is not in cmake/Modules.cmake: add the line "
                        "`cg_module(${name} <the modules it may depend on>)`")
  endif()
  foreach(dep IN LISTS ARGN)
    if(dep MATCHES "^cg_(.+)$" AND NOT CMAKE_MATCH_1 IN_LIST CG_MODULE_${name}_DEPS)
      message(FATAL_ERROR "module cg_${name} may not depend on ${dep}: cmake/Modules.cmake "
                          "allows cg_${name} only [${CG_MODULE_${name}_DEPS}]")
    endif()
  endforeach()
endfunction()

# cg_library(NAME SOURCES ... DEPS ...): a module library `cg_NAME` with strict warnings.
# The include root is the repository, so code includes "gateway/common/status.h". Its cg_
# DEPS must be allowed by cmake/Modules.cmake (cg_check_module_deps).
function(cg_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  cg_check_module_deps(${name} ${ARG_DEPS})
  add_library(cg_${name} STATIC ${ARG_SOURCES})
  target_include_directories(cg_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(cg_${name} PUBLIC ${ARG_DEPS})
  cg_strict(cg_${name})
endfunction()

# cg_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary registered with ctest.
function(cg_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${name} PRIVATE
    CG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    CG_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
    CG_TEST_VECTORS_DIR="${PROJECT_SOURCE_DIR}/tests/vectors")
  cg_strict(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

# cg_fuzz(NAME SOURCES ... DEPS ...): a libFuzzer target in fuzz builds; in other builds the
# same entry point is linked with a replayer and its seed corpus runs as a ctest test.
function(cg_fuzz name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  set(target fuzz_${name})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS})
  cg_strict(${target})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(CG_FUZZ)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    add_test(NAME fuzz_corpus.${name} COMMAND ${target} ${corpus})
    set_tests_properties(fuzz_corpus.${name} PROPERTIES TIMEOUT 300 LABELS fuzz)
  endif()
endfunction()
