/**
 * The browser demo: with a bearer token, create a group, read it back with a
 * cacheable GET, list groups and render them. Everything it needs comes in
 * the URL fragment (never sent to the page's server):
 *   #server=http://127.0.0.1:8080&token=...&slug=...&protocol=connect|grpc-web
 * When done, `#status` carries data-state="ok" or data-state="error" with the
 * error's code and message.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { GroupService } from "../../../gen/roster/v1/group_service_pb.ts";

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`#${id} missing from the page`);
  return found;
}

async function run(): Promise<void> {
  const params = new URLSearchParams(location.hash.slice(1));
  const baseUrl = params.get("server") ?? "";
  const token = params.get("token") ?? "";
  const slug = params.get("slug") ?? "browser-demo";
  const protocol = params.get("protocol") ?? "connect";

  const bearer: Interceptor = (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport =
    protocol === "grpc-web"
      ? createGrpcWebTransport({ baseUrl, interceptors: [bearer] })
      : createConnectTransport({ baseUrl, interceptors: [bearer], useHttpGet: true });
  const client = createClient(GroupService, transport);

  const created = await client.createGroup({ group: { slug, displayName: `Browser ${slug}` } });
  const id = created.group?.id ?? "";
  const fetched = await client.getGroup({ id });
  const listed = await client.listGroups({ pageSize: 100, orderBy: "display_name" });

  const list = element("groups");
  list.replaceChildren(
    ...listed.groups.map((group) => {
      const item = document.createElement("li");
      item.dataset["id"] = group.id;
      item.dataset["slug"] = group.slug;
      item.textContent = `${group.displayName} (${group.slug})`;
      return item;
    }),
  );
  const status = element("status");
  status.dataset["state"] = "ok";
  status.textContent = `created ${created.group?.slug ?? "?"} (${id}); read back ${fetched.group?.slug ?? "?"} as ${fetched.callerAccess?.permissions.join(" ") ?? "?"}; ${listed.groups.length} listed`;
}

run().catch((error: unknown) => {
  const status = element("status");
  const connectError = ConnectError.from(error);
  status.dataset["state"] = "error";
  status.dataset["code"] = Code[connectError.code];
  status.textContent = `[${Code[connectError.code]}] ${connectError.rawMessage}`;
});
