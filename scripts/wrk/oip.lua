-- wrk script: replays one Open Inference Protocol request body, written by
-- `meshinfer bench request`, against an /v2/models/<name>/infer endpoint.
--
--   meshinfer bench request --model cnn --out /tmp/cnn.json
--   wrk -t1 -c32 -d15s --latency -s scripts/wrk/oip.lua \
--       http://127.0.0.1:8080/v2/models/cnn/infer -- /tmp/cnn.json
--
-- For a body with the binary tensor extension (`bench request --binary`), pass the
-- length of its JSON header as the second argument; it is sent as
-- Inference-Header-Content-Length. wrk's summary counts answers other than 2xx/3xx
-- ("Non-2xx or 3xx responses"); the first few answers other than 200 are also printed
-- to stderr with their status and error text, so a count says what it counts.

local body_file, header_length = nil, nil
local shown = 0

function init(args)
  body_file, header_length = args[1], args[2]
  if body_file == nil then
    error("usage: wrk ... -s scripts/wrk/oip.lua URL -- BODY_FILE [INFERENCE_HEADER_CONTENT_LENGTH]")
  end
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  if header_length then
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.headers["Inference-Header-Content-Length"] = header_length
  else
    wrk.headers["Content-Type"] = "application/json"
  end
  req = wrk.format()
end

function request()
  return req
end

function response(status, headers, body)
  if status ~= 200 and shown < 5 then
    shown = shown + 1
    io.stderr:write("HTTP " .. status .. ": " .. string.sub(body, 1, 300) .. "\n")
  end
end
