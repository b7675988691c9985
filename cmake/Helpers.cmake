# cg_library(NAME SOURCES ... DEPS ...): a module library `cg_NAME` with strict warnings.
# The include root is the repository, so code includes "gateway/common/status.h".
function(cg_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
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
