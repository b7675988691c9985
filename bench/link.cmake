cg_bench(link_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/link_bench.cc DEPS cg_link)
