cg_fuzz(http_request SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_request.cc DEPS cg_metrics)
