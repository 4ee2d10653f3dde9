-- wrk: send the header named in WRK_HEADER ("Name: value") with every request.
local name, value = string.match(os.getenv("WRK_HEADER") or "", "^([^:]+):%s*(.*)$")
if name then
  wrk.headers[name] = value
end
