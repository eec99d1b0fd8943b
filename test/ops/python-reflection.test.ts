/**
 * A real foreign client: Python grpcio with google.protobuf's C++
 * DescriptorPool (Debian's python3-grpcio and python3-protobuf, run with
 * /usr/bin/python3), which knows nothing of Roster but what server reflection
 * tells it. It loads every file reflection lists, with its imports, into the
 * strict pool (which refuses unresolved or empty type names), reads each
 * Roster method's `(roster.v1.access)` option from the bytes it received,
 * builds CreateGroup/GetGroup and Health/Check requests from the reflected
 * descriptors alone and calls them (test/ops/python/reflection_client.py).
 *
 * `.ci/run` installs the packages. Without them the test fails under CI=true
 * and is otherwise reported as skipped, with the reason (required-tool.ts).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { getExtension, toJson, type DescService } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { access, AccessRuleSchema } from "../../gen/roster/v1/access_pb.ts";
import { GroupService } from "../../gen/roster/v1/group_service_pb.ts";
import { MembershipService } from "../../gen/roster/v1/membership_service_pb.ts";
import { describeWithTool, whyNotRunnable } from "../fixtures/required-tool.ts";
import { startRosterStack, type RosterStack } from "../fixtures/roster-both-doors.ts";

const python = "/usr/bin/python3";
const client = fileURLToPath(new URL("./python/reflection_client.py", import.meta.url));

interface PythonReport {
  readonly services: Record<string, { file: string; methods: Record<string, [string, string]>; access?: Record<string, unknown> }>;
  readonly v1alphaServices: string[];
  readonly files: Record<string, { package: string; dependency: string[] }>;
  readonly describe: Record<string, string[]>;
  readonly health: string;
  readonly created: { group: { id: string; slug: string; labels: Record<string, string>; createdBy: string } };
  readonly fetched: { group: { id: string }; callerAccess: { role: string } };
}

function runClient(address: string, token: string): Promise<PythonReport> {
  return new Promise((resolve, reject) => {
    execFile(python, [client, address, token], { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      // stderr carries Python's traceback; the command line (with the token) is left out.
      if (error) reject(new Error(`python reflection client exited with ${error.code ?? error.signal ?? "?"}:\n${stderr}`));
      else resolve(JSON.parse(stdout) as PythonReport);
    });
  });
}

/** The access rule each method declares in the proto, in the JSON form Python's json_format gives it. */
function declaredRules(service: DescService): Record<string, unknown> {
  return Object.fromEntries(
    service.methods.map((method) => {
      const rule = method.proto.options === undefined ? undefined : getExtension(method.proto.options, access);
      return [method.name, rule === undefined ? null : toJson(AccessRuleSchema, rule, { useProtoFieldName: true })];
    }),
  );
}

describeWithTool(
  "Python grpcio reflection client",
  whyNotRunnable(python, ["-c", "import grpc, google.protobuf"]),
  "python3-grpcio python3-protobuf",
  () => {
    let stack: RosterStack | undefined;
    let report: PythonReport;

    beforeAll(async () => {
      const started = await startRosterStack();
      stack = started;
      report = await runClient(started.grpcAddress, await started.token("pythonista"));
    }, 90_000);

    afterAll(async () => {
      await stack?.stop();
    });

    it("loads every listed service's file, with its imports, into the strict DescriptorPool under its standard name", () => {
      expect(Object.fromEntries(Object.entries(report.services).map(([name, s]) => [name, s.file]))).toEqual({
        "grpc.health.v1.Health": "grpc/health/v1/health.proto",
        "grpc.reflection.v1.ServerReflection": "grpc/reflection/v1/reflection.proto",
        "grpc.reflection.v1alpha.ServerReflection": "grpc/reflection/v1alpha/reflection.proto",
        "roster.v1.GroupService": "roster/v1/group_service.proto",
        "roster.v1.MembershipService": "roster/v1/membership_service.proto",
        "roster.v1.ChangeService": "roster/v1/change_service.proto",
      });
      expect(report.v1alphaServices.sort()).toEqual(Object.keys(report.services).sort());
      expect(Object.keys(report.files)).toEqual(
        expect.arrayContaining(["google/protobuf/descriptor.proto", "roster/v1/access.proto", "google/protobuf/timestamp.proto"]),
      );
      expect(report.services["grpc.health.v1.Health"]?.methods["Check"]).toEqual([
        "grpc.health.v1.HealthCheckRequest",
        "grpc.health.v1.HealthCheckResponse",
      ]);
    });

    it("describes the reflection and health requests with their snake_case field names", () => {
      const reflectionFields = [
        "host",
        "file_by_filename",
        "file_containing_symbol",
        "file_containing_extension",
        "all_extension_numbers_of_type",
        "list_services",
      ];
      expect(report.describe).toEqual({
        "grpc.reflection.v1.ServerReflectionRequest": reflectionFields,
        "grpc.reflection.v1alpha.ServerReflectionRequest": reflectionFields,
        "grpc.health.v1.HealthCheckRequest": ["service"],
      });
    });

    it.each([GroupService, MembershipService].map((s) => [s.typeName, s] as const))(
      "reads every %s method's declared (roster.v1.access) rule from the reflected bytes",
      (name, service) => {
        const rules = report.services[name]?.access;
        expect(rules).toEqual(declaredRules(service));
        // Every method declares a rule (requires is never left unspecified).
        for (const [method, rule] of Object.entries(rules ?? {})) expect(rule, method).toHaveProperty("requires");
      },
    );

    it("calls Health/Check and Roster with requests built from reflection alone", () => {
      expect(report.health).toBe("SERVING");
      expect(report.created.group).toMatchObject({ slug: "python-team", labels: { lang: "python" }, createdBy: "user:pythonista" });
      expect(report.fetched.group.id).toBe(report.created.group.id);
      expect(report.fetched.callerAccess.role).toBe("ROLE_ADMIN");
    });
  },
);
