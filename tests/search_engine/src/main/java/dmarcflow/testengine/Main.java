package dmarcflow.testengine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.Netty4Plugin;

/**
 * Runs one single-node Elasticsearch cluster in this JVM, HTTP on 127.0.0.1:{port}.
 *
 * Usage: Main <httpPort> <dataDir>. The node is built directly rather than through the
 * Bootstrap class so that the root-user refusal and production bootstrap checks, which
 * only exist there, do not apply (tests and CI run as root). Stops cleanly on SIGTERM, and
 * on EOF of stdin when -Ddmarcflow.exitOnStdinEof=true.
 */
public final class Main {

    private Main() {
    }

    /** Node subclass only to reach the constructor that accepts classpath plugins. */
    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment environment, List<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Main <httpPort> <dataDir>");
            System.exit(2);
        }
        Path home = Path.of(args[1]).toAbsolutePath();
        Files.createDirectories(home.resolve("config"));
        Settings settings = nodeSettings(Integer.parseInt(args[0]), home);
        LogConfigurator.configureWithoutConfig(settings);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings, Collections.emptyMap(), home.resolve("config"), () -> "dmarcflow-test");
        Node node = new EmbeddedNode(environment, List.of(Netty4Plugin.class));
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> closeNode(node, closed)));
        node.start();
        System.out.println("dmarcflow-search-engine started");
        if (Boolean.getBoolean("dmarcflow.exitOnStdinEof")) {
            exitOnStdinEof();
        }
        closed.await();
    }

    /**
     * The launcher holds our stdin open and never writes to it: EOF means it died, and a
     * node left running would hold the port and data directory of the next test run.
     */
    private static void exitOnStdinEof() {
        Thread watchdog = new Thread(() -> {
            try {
                while (System.in.read() != -1) {
                    // Nothing is ever sent; drain anything that is.
                }
            } catch (java.io.IOException e) {
                // A broken pipe means the same thing as EOF.
            }
            System.exit(0);
        }, "stdin-eof-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    static Settings nodeSettings(int httpPort, Path home) {
        return Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("cluster.name", "dmarcflow-test")
                .put("node.name", "dmarcflow-test")
                .put("discovery.type", "single-node")
                .put("network.host", "127.0.0.1")
                .put("http.port", httpPort)
                // The transport layer is unused by a single node: any free port will do.
                .put("transport.port", "0")
                .put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
                .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME)
                // Small CI disks must not flip indices to read-only mid-test.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("logger.level", "INFO")
                .build();
    }

    private static void closeNode(Node node, CountDownLatch closed) {
        try {
            node.close();
            node.awaitClose(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            e.printStackTrace();
        } finally {
            closed.countDown();
        }
    }
}
